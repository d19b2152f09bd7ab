package auth

import (
	"context"
	"time"

	"golang.org/x/sync/singleflight"
	"k8s.io/apimachinery/pkg/util/cache"
)

// memo caches answers (an LRU with a TTL per answer, bounded in size so a
// flood of distinct bad tokens cannot grow memory) and collapses concurrent
// lookups of one key into one call: the first requests with a new token
// make one TokenReview, not one each.
type memo[V any] struct {
	cache *cache.LRUExpireCache
	calls singleflight.Group
}

func newMemo[V any](size int) *memo[V] {
	return &memo[V]{cache: cache.NewLRUExpireCache(size)}
}

// get returns the cached answer for key, or calls fetch once for all
// concurrent callers. fetch runs detached from any one caller's
// cancellation (others wait for it) but within timeout; it returns the
// answer and how long to keep it (0: not cached).
func (m *memo[V]) get(ctx context.Context, key string, timeout time.Duration, fetch func(context.Context) (V, time.Duration, error)) (V, error) {
	if v, ok := m.cache.Get(key); ok {
		return v.(V), nil
	}
	ch := m.calls.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		v, ttl, err := fetch(fctx)
		if err == nil && ttl > 0 {
			m.cache.Add(key, v, ttl)
		}
		return v, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			var zero V
			return zero, r.Err
		}
		return r.Val.(V), nil
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}
