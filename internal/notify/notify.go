// Package notify hands out, per key, a channel closed at the key's next
// change: take it before looking, then wait, and no change is missed.
package notify

import "sync"

// Keyed is ready to use as its zero value.
type Keyed struct {
	mu sync.Mutex
	ch map[string]chan struct{}
}

// Changed is closed at key's next Notify.
func (n *Keyed) Changed(key string) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = map[string]chan struct{}{}
	}
	c := n.ch[key]
	if c == nil {
		c = make(chan struct{})
		n.ch[key] = c
	}
	return c
}

// Notify wakes everyone waiting on key.
func (n *Keyed) Notify(key string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if c := n.ch[key]; c != nil {
		close(c)
		delete(n.ch, key)
	}
}
