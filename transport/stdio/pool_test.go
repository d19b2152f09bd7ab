package stdio

import (
	"context"
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
