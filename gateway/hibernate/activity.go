package hibernate

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// Activity records MCP requests per server in the Kubernetes API, the only
// store the gateway replicas share: one Lease per server in the gateway's
// namespace, whose renewTime is the latest request any replica saw.
//
// Touch is a memory write. A writer writes a server's Lease at most once per
// interval: at once when the server had no write for an interval (so a
// server that was idle shows its first new request within a round trip),
// else at the end of the interval with the latest request. It skips a
// write another replica's makes unnecessary. The Lease therefore lags the
// latest request by at most about two intervals, which the hibernator adds
// to every window.
type Activity struct {
	m        *Manager
	leases   cache.SharedIndexInformer
	interval time.Duration
	entries  sync.Map // namespace/server -> *entry
	kick     chan struct{}
	// lastError rate-limits error logs (unix ns).
	lastError atomic.Int64
}

type entry struct {
	namespace, server string
	last              atomic.Int64 // latest request, unix ns
	flushed           atomic.Int64 // when this replica last wrote (or skipped) it
	written           int64        // the latest request written or covered (writer only)
}

func newActivity(m *Manager, leases cache.SharedIndexInformer) *Activity {
	return &Activity{m: m, leases: leases, interval: m.opts.ActivityInterval, kick: make(chan struct{}, 1)}
}

// Touch records a request for namespace/server now.
func (a *Activity) Touch(namespace, server string) {
	now := a.m.now().UnixNano()
	v, ok := a.entries.Load(namespace + "/" + server)
	if !ok {
		v, _ = a.entries.LoadOrStore(namespace+"/"+server, &entry{namespace: namespace, server: server})
	}
	e := v.(*entry)
	for {
		old := e.last.Load()
		if now <= old || e.last.CompareAndSwap(old, now) {
			break
		}
	}
	if now-e.flushed.Load() >= int64(a.interval) {
		select {
		case a.kick <- struct{}{}:
		default:
		}
	}
}

// Last is the latest request for namespace/server known here: this
// replica's, or the Lease's.
func (a *Activity) Last(namespace, server string) time.Time {
	t := a.leaseTime(namespace, server)
	if v, ok := a.entries.Load(namespace + "/" + server); ok {
		t = max(t, v.(*entry).last.Load())
	}
	if t == 0 {
		return time.Time{}
	}
	return time.Unix(0, t)
}

func (a *Activity) lease(namespace, server string) *coordinationv1.Lease {
	obj, ok, _ := a.leases.GetIndexer().GetByKey(a.m.opts.Namespace + "/" + api.ActivityLeaseName(namespace, server))
	if !ok {
		return nil
	}
	return obj.(*coordinationv1.Lease)
}

func (a *Activity) leaseTime(namespace, server string) int64 {
	if l := a.lease(namespace, server); l != nil && l.Spec.RenewTime != nil {
		return l.Spec.RenewTime.UnixNano()
	}
	return 0
}

// run writes Leases until ctx ends: at every kick and every half interval.
func (a *Activity) run(ctx context.Context) {
	t := time.NewTicker(a.interval / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-a.kick:
		}
		a.flush(ctx)
	}
}

func (a *Activity) flush(ctx context.Context) {
	now := a.m.now().UnixNano()
	a.entries.Range(func(k, v any) bool {
		e := v.(*entry)
		last := e.last.Load()
		if last <= e.written || now-e.flushed.Load() < int64(a.interval) {
			return true // nothing new, or written less than an interval ago
		}
		if !a.wanted(e) {
			a.entries.Delete(k)
			return true
		}
		e.flushed.Store(now)
		if a.leaseTime(e.namespace, e.server) >= last-int64(a.interval/2) {
			e.written = last // another replica's write is recent enough
			a.m.metrics.leaseWrites.WithLabelValues("covered").Inc()
			return true
		}
		if err := a.write(ctx, e, last); err != nil {
			a.m.metrics.leaseWrites.WithLabelValues("error").Inc()
			a.logError(e, err)
			return true // tried again after an interval
		}
		e.written = last
		a.m.metrics.leaseWrites.WithLabelValues("written").Inc()
		return true
	})
}

// wanted: only servers that can hibernate get a Lease; a request for a
// server without a Deployment (any name a caller may try) writes nothing.
func (a *Activity) wanted(e *entry) bool {
	d := a.m.deploymentFor(e.namespace, e.server)
	return d != nil && (a.m.Window(d) > 0 || stateOf(d) != "")
}

// write sets the Lease's renewTime to last, creating the Lease when there
// is none; an update is a compare-and-swap on the cached Lease.
func (a *Activity) write(ctx context.Context, e *entry, last int64) error {
	leases := a.m.opts.Client.CoordinationV1().Leases(a.m.opts.Namespace)
	t := metav1.NewMicroTime(time.Unix(0, last))
	id := a.m.opts.Identity
	l := a.lease(e.namespace, e.server)
	if l == nil {
		l = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: api.ActivityLeaseName(e.namespace, e.server), Namespace: a.m.opts.Namespace,
				Labels: map[string]string{api.ManagedByLabel: api.ManagedByValue, api.ComponentLabel: api.ActivityComponent}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &id, RenewTime: &t},
		}
		_, err := leases.Create(ctx, l, metav1.CreateOptions{FieldManager: fieldManager})
		return err
	}
	if l.Spec.RenewTime != nil && !l.Spec.RenewTime.Before(&t) {
		return nil
	}
	l = l.DeepCopy()
	l.Spec.HolderIdentity, l.Spec.RenewTime = &id, &t
	_, err := leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: fieldManager})
	return err
}

func (a *Activity) logError(e *entry, err error) {
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		a.m.log.Debug("activity lease written by another replica meanwhile", "namespace", e.namespace, "server", e.server)
		return
	}
	now := time.Now().UnixNano()
	if last := a.lastError.Load(); now-last < int64(time.Minute) || !a.lastError.CompareAndSwap(last, now) {
		return
	}
	a.m.log.Warn("writing an activity lease failed (at most one such line a minute)", "namespace", e.namespace, "server", e.server, "error", err.Error())
}

// collect deletes the activity Leases of servers that have no Deployment
// any more (leader only, with synced caches).
func (a *Activity) collect(ctx context.Context) {
	leases := a.m.opts.Client.CoordinationV1().Leases(a.m.opts.Namespace)
	for _, obj := range a.leases.GetStore().List() {
		l := obj.(*coordinationv1.Lease)
		ns, server, ok := api.ParseActivityLeaseName(l.Name)
		if !ok || a.m.deploymentFor(ns, server) != nil {
			continue
		}
		err := leases.Delete(ctx, l.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &l.ResourceVersion}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			a.m.log.Warn("deleting an activity lease failed", "lease", l.Name, "error", err.Error())
		}
	}
}
