package stdio

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// probeRequest is the readiness handshake. The sidecar is the client here,
// so it knows exactly what it sends; no client data is involved.
var probeRequest = []byte(`{"jsonrpc":"2.0","id":"readiness-probe","method":"initialize","params":{"protocolVersion":"` +
	api.MCPVersion20250618 + `","capabilities":{},"clientInfo":{"name":"mcp-transport-readiness","version":"1"}}}`)

// prober keeps readiness fresh: when no session has completed an initialize
// recently, it starts a process and does the handshake itself.
func (m *Manager) prober() {
	failures := 0
	for {
		interval := m.cfg.ProbeInterval
		if m.health.Stale() {
			if err := m.probe(); err != nil {
				m.health.Failed(err.Error())
				failures++
				m.log.Warn("readiness probe failed", "err", err, "failuresInARow", failures)
				// Retry soon at first (the launcher usually starts after
				// the sidecar), then back off: a server that does not start
				// must not be restarted every half second (npx is costly).
				interval = probeBackoff(failures)
			} else {
				m.health.Succeeded()
				failures = 0
			}
		}
		select {
		case <-m.stop:
			return
		case <-time.After(interval):
		}
	}
}

func (m *Manager) probe() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.StartTimeout)
	defer cancel()
	p, err := m.startProcess(ctx)
	if err != nil {
		return err
	}
	defer func() {
		p.Stop()
		m.metrics.ProcessExited("stopped")
	}()
	c := m.newConn(p)
	res := make(chan error, 2)
	report := func(err error) {
		select {
		case res <- err:
		default:
		}
	}
	go c.readLoop(func(msg *mcp.Message) {
		if msg.Kind == mcp.KindResponse && msg.Key() == `"readiness-probe"` {
			if msg.IsError {
				report(errors.New("server answered initialize with an error"))
				return
			}
			report(nil)
		}
	}, func(status string) { report(fmt.Errorf("process ended during the handshake: %s", status)) })
	if err := c.write(probeRequest); err != nil {
		return err
	}
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no initialize answer: %w", ctx.Err())
	case <-m.stop:
		return errors.New("shutting down")
	}
}

// probeBackoff is 0.5 s after the first failure, doubling up to 30 s.
func probeBackoff(failures int) time.Duration {
	return min(500*time.Millisecond<<min(failures-1, 6), 30*time.Second)
}
