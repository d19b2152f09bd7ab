package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Registry holds the endpoints of every MCP server, kept current by pod
// informers (watch events, no polling). It is safe for concurrent use.
type Registry struct {
	log *slog.Logger

	mu       sync.RWMutex
	byServer map[string][]*Endpoint // "ns/server" -> pods with an IP
	byUID    map[string]*Endpoint
	loads    map[string]*load // uid -> live load, kept across updates
	// waiters: "ns/server" -> a channel closed at the server's next change.
	waiters map[string]chan struct{}

	next atomic.Uint64 // rotates ties between equally loaded pods

	factories []informers.SharedInformerFactory
	synced    []cache.InformerSynced
}

// NewRegistry watches pods carrying the server label in the given
// namespaces (none: all namespaces). Call Start to begin.
func NewRegistry(client kubernetes.Interface, namespaces []string, log *slog.Logger) (*Registry, error) {
	r := &Registry{
		log:      log,
		byServer: map[string][]*Endpoint{},
		byUID:    map[string]*Endpoint{},
		loads:    map[string]*load{},
		waiters:  map[string]chan struct{}{},
	}
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	for _, ns := range namespaces {
		f := informers.NewSharedInformerFactoryWithOptions(client, 0,
			informers.WithNamespace(ns),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = api.ServerLabel }))
		inf := f.Core().V1().Pods().Informer()
		// Managed fields are most of a pod's bytes and never read here.
		if err := inf.SetTransform(stripManagedFields); err != nil {
			return nil, fmt.Errorf("pod informer transform: %w", err)
		}
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { r.upsert(obj) },
			UpdateFunc: func(_, obj any) { r.upsert(obj) },
			DeleteFunc: func(obj any) { r.remove(obj) },
		}); err != nil {
			return nil, fmt.Errorf("pod informer handler: %w", err)
		}
		r.factories = append(r.factories, f)
		r.synced = append(r.synced, inf.HasSynced)
	}
	return r, nil
}

func stripManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// Start runs the informers until ctx ends.
func (r *Registry) Start(ctx context.Context) {
	for _, f := range r.factories {
		f.Start(ctx.Done())
	}
}

// WaitForSync blocks until the first list of every informer is in.
func (r *Registry) WaitForSync(ctx context.Context) bool {
	return cache.WaitForCacheSync(ctx.Done(), r.synced...)
}

// HasSynced reports whether the initial lists are in (readiness).
func (r *Registry) HasSynced() bool {
	for _, s := range r.synced {
		if !s() {
			return false
		}
	}
	return true
}

func (r *Registry) upsert(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	uid := string(pod.UID)
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.loads[uid]
	if c == nil {
		c = &load{}
	}
	e, err := endpointFor(pod, c)
	if err != nil {
		r.log.Debug("pod is not an endpoint", "namespace", pod.Namespace, "pod", pod.Name, "reason", err.Error())
		r.dropLocked(uid)
		return
	}
	if old := r.byUID[uid]; old != nil && old.Key() != e.Key() {
		r.dropLocked(uid) // relabelled to another server
	}
	if e.Ready {
		c.servingUntil.Store(0) // the kubelet caught up: its word from now on
	}
	r.loads[uid] = c
	r.byUID[uid] = e
	list := r.byServer[e.Key()]
	if i := slices.IndexFunc(list, func(x *Endpoint) bool { return x.UID == uid }); i >= 0 {
		list = slices.Clone(list) // readers may hold the old slice
		list[i] = e
	} else {
		list = append(slices.Clip(list), e)
		sort.Slice(list, func(i, j int) bool { return list[i].Pod < list[j].Pod })
	}
	r.byServer[e.Key()] = list
	r.notifyLocked(e.Key())
}

func (r *Registry) remove(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropLocked(string(pod.UID))
}

func (r *Registry) dropLocked(uid string) {
	old := r.byUID[uid]
	if old == nil {
		return
	}
	delete(r.byUID, uid)
	delete(r.loads, uid)
	key := old.Key()
	list := slices.DeleteFunc(slices.Clone(r.byServer[key]), func(x *Endpoint) bool { return x.UID == uid })
	if len(list) == 0 {
		delete(r.byServer, key)
	} else {
		r.byServer[key] = list
	}
	r.notifyLocked(key)
}

func (r *Registry) notifyLocked(key string) {
	if ch := r.waiters[key]; ch != nil {
		close(ch)
		delete(r.waiters, key)
	}
}

// Changed returns a channel closed at the next change of namespace/server's
// pods (added, updated, removed, marked serving). Take it before looking at
// the pods, then wait on it, and no change is missed.
func (r *Registry) Changed(namespace, server string) <-chan struct{} {
	key := namespace + "/" + server
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := r.waiters[key]
	if ch == nil {
		ch = make(chan struct{})
		r.waiters[key] = ch
	}
	return ch
}

// MarkServing lets Pick choose the pod with uid, for d, although the kubelet
// has not reported it Ready yet: the caller saw the pod's own readiness
// endpoint (the check the kubelet's probe makes) succeed. A woken server
// then takes requests without waiting up to a probe period for the
// kubelet's next probe. The pod's Ready condition, once seen, takes over.
func (r *Registry) MarkServing(uid string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.byUID[uid]
	if e == nil || e.Ready {
		return
	}
	e.load.servingUntil.Store(time.Now().Add(d).UnixNano())
	r.notifyLocked(e.Key())
}

// Pick returns the ready, non-terminating pod of namespace/server with the
// fewest in-flight requests, then the fewest sessions placed by this
// replica, skipping the UIDs in exclude (pods that just failed to answer).
// Remaining ties rotate. nil: none.
func (r *Registry) Pick(namespace, server string, exclude map[string]bool) *Endpoint {
	r.mu.RLock()
	list := r.byServer[namespace+"/"+server]
	r.mu.RUnlock()
	n := len(list)
	if n == 0 {
		return nil
	}
	start := int(r.next.Add(1) % uint64(n))
	var best *Endpoint
	for i := 0; i < n; i++ {
		e := list[(start+i)%n]
		if !e.takesNew() || exclude[e.UID] {
			continue
		}
		if best == nil || e.lighter(best) {
			best = e
		}
	}
	return best
}

// Lookup returns the pod with uid if it still exists, has an IP and serves
// namespace/server; nil means the session's pod is gone.
func (r *Registry) Lookup(namespace, server, uid string) *Endpoint {
	r.mu.RLock()
	e := r.byUID[uid]
	r.mu.RUnlock()
	if e == nil || e.Namespace != namespace || e.Server != server {
		return nil
	}
	return e
}

// Known reports whether any pod of namespace/server is known (ready or
// not). Used to keep metric labels bounded to real servers.
func (r *Registry) Known(namespace, server string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.byServer[namespace+"/"+server]) > 0
}

// Sessions returns, per namespace/server, the sessions this replica placed
// on pods that still exist and has not seen end. A pod that goes away takes
// its sessions with it.
func (r *Registry) Sessions() map[string]int64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make(map[string]int64, len(r.byServer))
	for key, eps := range r.byServer {
		var n int64
		for _, e := range eps {
			n += e.Sessions()
		}
		out[key] = n
	}
	return out
}

// Endpoints returns a snapshot of the pods of namespace/server.
func (r *Registry) Endpoints(namespace, server string) []*Endpoint {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.byServer[namespace+"/"+server])
}
