package health

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestTracker(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	tr := NewTracker(time.Minute)
	tr.now = func() time.Time { return now }
	status := func() int {
		if ok, _ := tr.Ready(); ok {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	}
	assert.Equal(t, http.StatusServiceUnavailable, status())
	assert.True(t, tr.Stale())
	tr.Failed("boom")
	ok, msg := tr.Ready()
	assert.False(t, ok)
	assert.Contains(t, msg, "boom")
	tr.Succeeded()
	assert.Equal(t, http.StatusOK, status())
	assert.False(t, tr.Stale())
	now = now.Add(31 * time.Second)
	assert.True(t, tr.Stale(), "re-probe after half the window")
	assert.Equal(t, http.StatusOK, status())
	now = now.Add(30 * time.Second)
	assert.Equal(t, http.StatusServiceUnavailable, status(), "too old")
	tr.Succeeded()
	tr.SetDraining()
	assert.Equal(t, http.StatusServiceUnavailable, status())
}

func TestNotReadyAfterFailuresInARow(t *testing.T) {
	t.Parallel()
	tr := NewTracker(time.Hour)
	tr.Succeeded()
	for i := 1; i < FailuresBeforeNotReady; i++ {
		tr.Failed("exit status 1")
		ready, _ := tr.Ready()
		assert.True(t, ready, "one failed probe is not an outage (%d)", i)
	}
	tr.Failed("exit status 1")
	ready, reason := tr.Ready()
	assert.False(t, ready)
	assert.Contains(t, reason, "the last 3 MCP handshakes failed: exit status 1")
	tr.Succeeded()
	ready, _ = tr.Ready()
	assert.True(t, ready, "a success makes it ready again")
}
