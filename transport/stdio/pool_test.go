package stdio

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Shutdown does not wait for a pooled process that is still starting
// (npx can take seconds, StartTimeout a minute): the start is abandoned
// and the process stopped.
func TestCloseAbandonsAPoolStart(t *testing.T) {
	t.Parallel()
	started := make(chan *fakeProcess, 1)
	b := newBridge(t, func(c *Config) {
		c.StartTimeout = time.Minute
		c.Health.Succeeded()
		c.Starter = StarterFunc(func(context.Context, string) (Process, error) {
			p := newFakeProcess() // reads, but never answers the warm-up ping
			go func() { _, _ = io.Copy(io.Discard, p.stdinR) }()
			started <- p
			return p, nil
		})
	})
	var p *fakeProcess
	select {
	case p = <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the pool never started a process")
	}
	closed := make(chan struct{})
	go func() { b.Manager.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for the starting process")
	}
	assert.Positive(t, p.stops.Load(), "the starting process is stopped")
}

// A pooled process that died while waiting is stopped (reaped, pipes
// closed) and replaced by a fresh one for the session.
func TestDeadPooledProcessIsStoppedAndReplaced(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var procs []*fakeProcess
	b := newBridge(t, func(c *Config) {
		c.Health.Succeeded()
		c.Starter = StarterFunc(func(context.Context, string) (Process, error) {
			p := newFakeProcess()
			fakeServer(p)
			mu.Lock()
			procs = append(procs, p)
			mu.Unlock()
			return p, nil
		})
	})
	first := func() *fakeProcess {
		mu.Lock()
		defer mu.Unlock()
		return procs[0]
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(procs) > 0
	}, 10*time.Second, 10*time.Millisecond)
	select {
	case <-first().pinged: // warm: the pool hands it to the next session
	case <-time.After(10 * time.Second):
		t.Fatal("the pooled process was never warmed up")
	}
	first().exit() // it dies while pooled, without anyone stopping it

	// The pool may not have offered it yet when the first session asks;
	// it has by the second.
	for i := 0; i < 3 && first().stops.Load() == 0; i++ {
		rawSession(t, b.URL, "2025-06-18")
	}
	assert.Positive(t, first().stops.Load(), "the dead pooled process is stopped")
}

// pingingStarter starts fake servers that answer the warm-up ping, and
// counts the starts and the processes stopped.
type pingingStarter struct {
	mu    sync.Mutex
	procs []*fakeProcess
	fail  error
}

func (s *pingingStarter) Start(context.Context, string) (Process, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	p := newFakeProcess()
	fakeServer(p)
	s.procs = append(s.procs, p)
	return p, nil
}

func (s *pingingStarter) counts() (started, stopped int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		if p.stops.Load() > 0 {
			stopped++
		}
	}
	return len(s.procs), stopped
}

// A burst that finds the pool empty waits for processes the pool starts
// side by side, grows the pool (within WarmPoolMax) so the next burst
// finds them ready, and the grown pool shrinks back once bursts stop.
func TestPoolGrowsForBurstsAndShrinksBack(t *testing.T) {
	t.Parallel()
	st := &pingingStarter{}
	b := newBridge(t, func(c *Config) {
		c.Starter = st                             // the readiness probe learns the era with one of its processes
		c.EraProbeTimeout = 200 * time.Millisecond // the fake answers no server/discover
		c.WarmPool, c.WarmPoolMax, c.WarmPoolQuiet = 1, 6, 200*time.Millisecond
	})
	pl := b.Manager.pool
	require.Eventually(t, pl.full, 10*time.Second, time.Millisecond)
	var wg sync.WaitGroup
	conns := make([]*conn, 6)
	for i := range conns {
		wg.Go(func() {
			c, err := pl.get(context.Background())
			assert.NoError(t, err)
			conns[i] = c
		})
	}
	wg.Wait()
	for _, c := range conns {
		require.NotNil(t, c)
		c.proc.Stop()
	}
	pl.mu.Lock()
	grown := pl.target
	pl.mu.Unlock()
	assert.Equal(t, 6, grown, "the burst grew the pool to its ceiling")
	require.Eventually(t, func() bool { pl.mu.Lock(); defer pl.mu.Unlock(); return len(pl.ready) == 6 }, 10*time.Second, time.Millisecond,
		"the pool refills to the grown target ahead of the next burst")
	require.Eventually(t, func() bool {
		pl.mu.Lock()
		defer pl.mu.Unlock()
		return pl.target == 1 && len(pl.ready) == 1
	}, 10*time.Second, 10*time.Millisecond, "quiet periods shrink it back")
	started, stopped := st.counts()
	assert.Equal(t, started-1, stopped, "the processes beyond the target are stopped")
}

// A session waiting for the pool gets the error of a start that failed,
// at once, as its own start would have failed it.
func TestPoolWaiterGetsTheStartError(t *testing.T) {
	t.Parallel()
	st := &pingingStarter{fail: errors.New("no such command")}
	b := newBridge(t, func(c *Config) {
		c.Health.Succeeded()
		c.Starter = st
		c.WarmPool = 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := b.Manager.pool.get(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no such command")
	assert.NoError(t, ctx.Err(), "not the wait's deadline")
}
