package stdio

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// probeRequest is the readiness handshake. The sidecar is the client here,
// so it knows exactly what it sends; no client data is involved.
var probeRequest = []byte(`{"jsonrpc":"2.0","id":"readiness-probe","method":"initialize","params":{"protocolVersion":"` +
	mcp.Version20250618 + `","capabilities":{},"clientInfo":{"name":"mcp-transport-readiness","version":"1"}}}`)

// prober keeps readiness fresh: when no session has completed an initialize
// recently, it starts a process and does the handshake itself.
func (m *Manager) prober() {
	for {
		interval := m.cfg.ProbeInterval
		if m.health.Stale() {
			if err := m.probe(); err != nil {
				m.health.Failed(err.Error())
				m.log.Warn("readiness probe failed", "err", err)
				// Retry sooner until the first success (the launcher
				// usually starts after the sidecar).
				interval = min(interval, 500*time.Millisecond)
			} else {
				m.health.Succeeded()
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
