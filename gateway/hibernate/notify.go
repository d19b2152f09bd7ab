package hibernate

import "sync"

// notifier hands out, per key, a channel closed at the key's next change:
// take it before looking, then wait, and no change is missed.
type notifier struct {
	mu sync.Mutex
	ch map[string]chan struct{}
}

func (n *notifier) changed(key string) <-chan struct{} {
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

func (n *notifier) notify(key string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if c := n.ch[key]; c != nil {
		close(c)
		delete(n.ch, key)
	}
}
