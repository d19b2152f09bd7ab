package notify

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestKeyed(t *testing.T) {
	t.Parallel()
	var n Keyed
	a1, a2, b := n.Changed("a"), n.Changed("a"), n.Changed("b")
	assert.False(t, closed(a1))
	n.Notify("a")
	assert.True(t, closed(a1), "a change of a wakes its waiters")
	assert.True(t, closed(a2))
	assert.False(t, closed(b), "and no other key's")
	assert.False(t, closed(n.Changed("a")), "a channel taken after the change waits for the next")
	n.Notify("never taken") // no waiter: nothing to do
}
