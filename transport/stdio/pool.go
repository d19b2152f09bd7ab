package stdio

import (
	"context"
	"errors"
	"sync"
	"time"
)

// pool keeps started processes that no session uses yet, so a new session
// (or a new caller's first stateless request) does not wait for the server
// to start (npx takes a second, a Go server a few milliseconds, 64 of them
// at once a few hundred).
//
// It keeps target processes warm: at least min (Config.WarmPool), more
// after a burst that took more than it held, up to max
// (Config.WarmPoolMax): the next burst finds them ready. A session that
// finds the pool empty waits for the next process ready, the oldest first,
// or for the error of a start that failed; a process starts for each
// waiting session at once, all side by side (starts are mostly waiting: in
// turn, a few at a time, 64 took twice as long). The pool refills to its
// target once takes pause for refillQuiet: refilling during a burst would
// take the cores from the sessions of the burst. The target halves back towards min for every
// Config.WarmPoolQuiet without a take that found the pool empty, and
// processes beyond it are stopped.
type pool struct {
	m          *Manager
	min, max   int
	kick       chan struct{} // something changed: refill
	dead       chan struct{} // a pooled process was found dead: back off
	shrinkTick time.Duration

	mu       sync.Mutex
	ready    []*conn
	starting int
	target   int
	waiters  []chan started // sessions waiting for a process, oldest first
	missed   bool           // a take found the pool empty since the last shrink
	failures int            // starts that failed in a row
	lastTake time.Time
	stopped  bool
}

// refillQuiet is how long takes pause before the pool refills.
const refillQuiet = 50 * time.Millisecond

// started is a start's outcome for a waiting session.
type started struct {
	c   *conn
	err error
}

// errPoolStopped: the sidecar shuts down while a session waits.
var errPoolStopped = errors.New("shutting down")

func newPool(m *Manager, size, ceiling int) *pool {
	return &pool{
		m: m, min: size, max: max(size, ceiling), target: size,
		shrinkTick: m.cfg.WarmPoolQuiet,
		kick:       make(chan struct{}, 1), dead: make(chan struct{}, 1),
	}
}

func isDone(p Process) bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}

func (p *pool) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// get returns a pooled live process, or waits for the next one ready (or
// for the error of the start it waited for).
func (p *pool) get(ctx context.Context) (*conn, error) {
	for {
		c, wait := p.take()
		if c == nil {
			var err error
			if c, err = p.await(ctx, wait); err != nil {
				return nil, err
			}
		}
		if c.pinged && p.modernOnly() {
			// Warmed before the era was known: a ping may have tied it
			// to 2025 (see warmUpPing).
			c.proc.Stop()
			p.m.metrics.ProcessExited("stopped")
			continue
		}
		if !isDone(c.proc) {
			return c, nil
		}
		c.proc.Stop() // reaps it and closes its pipes
		p.m.metrics.ProcessExited("crashed")
		select {
		case p.dead <- struct{}{}:
		default:
		}
	}
}

// take pops a ready process, or queues the caller and grows the target
// (it missed: the next burst this size finds its processes ready).
func (p *pool) take() (*conn, chan started) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.wake()
	p.lastTake = time.Now()
	if n := len(p.ready); n > 0 {
		c := p.ready[n-1]
		p.ready = p.ready[:n-1]
		return c, nil
	}
	wait := make(chan started, 1)
	if p.stopped {
		wait <- started{err: errPoolStopped}
		return nil, wait
	}
	p.waiters = append(p.waiters, wait)
	p.missed = true
	p.target = min(p.ceiling(), max(p.target*2, p.target+len(p.waiters)))
	return nil, wait
}

// await waits for the outcome handed to wait; when ctx ends first it
// leaves the queue (a process handed meanwhile goes back to the pool).
func (p *pool) await(ctx context.Context, wait chan started) (*conn, error) {
	select {
	case r := <-wait:
		return r.c, r.err
	case <-ctx.Done():
	}
	p.mu.Lock()
	for i, w := range p.waiters {
		if w == wait {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
	select {
	case r := <-wait: // handed before it left
		if r.c != nil {
			p.put(r.c)
		}
	default:
	}
	return nil, ctx.Err()
}

// put gives a ready process to the oldest waiter, or keeps it.
func (p *pool) put(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures = 0
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		w <- started{c: c}
		return
	}
	p.ready = append(p.ready, c)
}

// failed hands a start's error to every waiting session (as their own
// starts would most likely have failed them: they are told at once, not
// after the backoff) and counts it for the backoff.
func (p *pool) failed(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures++
	for _, w := range p.waiters {
		w <- started{err: err}
	}
	p.waiters = nil
}

// stop fails the waiting sessions and turns new ones away.
func (p *pool) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	for _, w := range p.waiters {
		w <- started{err: errPoolStopped}
	}
	p.waiters = nil
}

// run refills the pool until stop is closed, backing off when processes
// fail to start or die while waiting, and shrinks it after quiet periods.
func (p *pool) run(stop <-chan struct{}) {
	// Starts in progress (npx can take seconds) end with the pool, so that
	// shutdown never waits for them.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	shrink := time.NewTicker(p.shrinkTick)
	defer shrink.Stop()
	var starts sync.WaitGroup
	defer starts.Wait()
	for {
		var later <-chan time.Time
		if d := p.startMissing(ctx, &starts); d > 0 {
			later = time.After(d)
		}
		select {
		case <-stop:
			cancel()
			p.stop()
			return
		case <-p.kick:
		case <-later:
		case <-shrink.C:
			p.shrink()
		case <-p.dead:
			p.mu.Lock()
			p.failures++
			p.mu.Unlock()
		}
		if !p.pause(stop) {
			cancel()
			p.stop()
			return
		}
	}
}

// pause waits out the backoff after failures in a row (none: no wait);
// false when stop came first.
func (p *pool) pause(stop <-chan struct{}) bool {
	p.mu.Lock()
	n := p.failures
	p.mu.Unlock()
	if n == 0 {
		return true
	}
	select {
	case <-stop:
		return false
	case <-time.After(min(100*time.Millisecond<<min(n-1, 7), 10*time.Second)):
		return true
	}
}

// startMissing starts a process for every waiting session that none is
// starting for, and, once takes have paused for refillQuiet, what the
// target lacks; it returns how long to wait before that refill is due
// (0: none pending).
func (p *pool) startMissing(ctx context.Context, starts *sync.WaitGroup) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.waiters) - p.starting // starts for waiting sessions
	var later time.Duration
	if missing := len(p.waiters) + p.target - len(p.ready) - p.starting; n <= 0 && missing > 0 {
		if quiet := time.Since(p.lastTake); quiet >= refillQuiet {
			n = missing
		} else {
			later = refillQuiet - quiet
		}
	}
	for ; n > 0 && ctx.Err() == nil; n-- {
		p.starting++
		starts.Go(func() {
			c, err := p.start(ctx)
			p.mu.Lock()
			p.starting--
			p.mu.Unlock()
			switch {
			case err == nil:
				p.put(c)
			case ctx.Err() == nil:
				p.m.log.Warn("warm pool: starting process", "err", err)
				p.failed(err)
			default:
				p.failed(errPoolStopped)
			}
			p.wake()
		})
	}
	return later
}

// ceiling is what the target may grow to: max, and no more than
// MaxSessions leaves room for beside the sessions and processes in use.
// Lock order: the pool's, then the manager's.
func (p *pool) ceiling() int {
	limit := p.max
	if ms := p.m.cfg.MaxSessions; ms > 0 {
		p.m.mu.Lock()
		room := ms - p.m.countLocked()
		p.m.mu.Unlock()
		limit = min(limit, max(p.min, room))
	}
	return limit
}

// full reports whether the pool holds its target and starts nothing.
func (p *pool) full() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ready) >= p.target && p.starting == 0
}

// shrink halves a target no take missed for a while and stops the ready
// processes beyond it.
func (p *pool) shrink() {
	p.mu.Lock()
	if !p.missed {
		p.target = max(p.min, p.target/2)
	}
	p.missed = false
	var extra []*conn
	if n := len(p.ready) - p.target; n > 0 {
		extra = append(extra, p.ready[:n]...)
		p.ready = append(p.ready[:0], p.ready[n:]...)
	}
	p.mu.Unlock()
	for _, c := range extra {
		c.proc.Stop()
		p.m.metrics.ProcessExited("stopped")
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

// drain stops the unused processes (the pool has stopped).
func (p *pool) drain() {
	p.mu.Lock()
	ready := p.ready
	p.ready = nil
	p.mu.Unlock()
	for _, c := range ready {
		c.proc.Stop()
		p.m.metrics.ProcessExited("stopped")
	}
}
