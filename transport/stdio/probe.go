package stdio

import (
	"context"
	"time"
)

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

// probe starts a fresh process, learns the server's era with the stdio
// probe and, for a legacy server, does the initialize handshake: readiness
// means a real MCP exchange with a process of this pod succeeded.
func (m *Manager) probe() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.StartTimeout)
	defer cancel()
	go func() {
		select {
		case <-m.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	p, err := m.startProcess(ctx)
	if err != nil {
		return err
	}
	defer func() {
		p.Stop()
		m.metrics.ProcessExited("stopped")
	}()
	info, err := m.probeEra(ctx, m.newConn(p))
	if err != nil {
		return err
	}
	m.era.set(info)
	return nil
}

// probeBackoff is 0.5 s after the first failure, doubling up to 30 s.
func probeBackoff(failures int) time.Duration {
	return min(500*time.Millisecond<<min(failures-1, 6), 30*time.Second)
}
