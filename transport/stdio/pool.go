package stdio

import (
	"context"
	"errors"
	"time"
)

// pool keeps up to size started processes that no session uses yet, so a
// new session does not wait for the server to start (npx takes a second).
type pool struct {
	m     *Manager
	ready chan *conn
	dead  chan struct{} // a pooled process was found dead: back off
}

func newPool(m *Manager, size int) *pool {
	// run holds one process while blocked on the send, so size-1 buffered.
	return &pool{m: m, ready: make(chan *conn, size-1), dead: make(chan struct{}, 1)}
}

func isDone(p Process) bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}

// get returns a pooled live process, or starts one.
func (p *pool) get(ctx context.Context) (*conn, error) {
	for {
		select {
		case c := <-p.ready:
			if isDone(c.proc) {
				c.proc.Stop() // reaps it and closes its pipes
				p.m.metrics.ProcessExited("crashed")
				select {
				case p.dead <- struct{}{}:
				default:
				}
				continue
			}
			if c.pinged && p.modernOnly() {
				// Warmed before the era was known: a ping may have tied it
				// to 2025 (see warmUpPing).
				c.proc.Stop()
				p.m.metrics.ProcessExited("stopped")
				continue
			}
			return c, nil
		default:
			proc, err := p.m.startProcess(ctx)
			if err != nil {
				return nil, err
			}
			return p.m.newConn(proc), nil
		}
	}
}

// run refills the pool until stop is closed, backing off when processes
// fail to start or die while waiting.
func (p *pool) run(stop <-chan struct{}) {
	// A start in progress (npx can take seconds) ends with the pool, so
	// that shutdown never waits for it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	backoff := 100 * time.Millisecond
	wait := func(d time.Duration) bool {
		select {
		case <-stop:
			return false
		case <-time.After(d):
			return true
		}
	}
	for {
		select {
		case <-stop:
			return
		case <-p.dead:
			if !wait(backoff) {
				return
			}
			backoff = min(backoff*2, 10*time.Second)
			continue
		default:
		}
		c, err := p.start(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return // shutting down
			}
			p.m.log.Warn("warm pool: starting process", "err", err)
			if !wait(backoff) {
				return
			}
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		select {
		case p.ready <- c:
			backoff = 100 * time.Millisecond
		case <-stop:
			c.proc.Stop()
			p.m.metrics.ProcessExited("stopped")
			return
		}
	}
}

// start starts a process and waits until it answers the warm-up request.
func (p *pool) start(ctx context.Context) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, p.m.cfg.StartTimeout)
	defer cancel()
	warmUp, ping := p.warmUpRequest(ctx)
	proc, err := p.m.startProcess(ctx)
	if err != nil {
		return nil, err
	}
	c := p.m.newConn(proc)
	c.pinged = ping
	if err := c.warmUp(ctx, warmUp); err != nil {
		c.proc.Stop()
		p.m.metrics.ProcessExited(exitReason(ctx))
		return nil, err
	}
	return c, nil
}

// warmUpRequest is the warm-up for the server's era, which the prober
// learns at start: a server/discover for a server that speaks only
// 2026-07-28, else a ping. It waits for the era no longer than the probe's
// own timeout; a process pinged meanwhile is not handed to a modern-only
// server's caller (get).
func (p *pool) warmUpRequest(ctx context.Context) (request []byte, ping bool) {
	wait, cancel := context.WithTimeout(ctx, p.m.cfg.EraProbeTimeout)
	defer cancel()
	if info, err := p.m.era.get(wait); err == nil && info.modernOnly() {
		return warmUpDiscover, false
	}
	return warmUpPing, true
}

// modernOnly reports whether the server is known to speak only 2026-07-28.
func (p *pool) modernOnly() bool {
	info := p.m.era.peek()
	return info != nil && info.modernOnly()
}

// exitReason of a process stopped while starting: by shutdown, or because
// it failed.
func exitReason(ctx context.Context) string {
	if errors.Is(context.Cause(ctx), context.Canceled) {
		return "stopped"
	}
	return "crashed"
}

// drain stops the unused processes.
func (p *pool) drain() {
	for {
		select {
		case c := <-p.ready:
			c.proc.Stop()
			p.m.metrics.ProcessExited("stopped")
		default:
			return
		}
	}
}
