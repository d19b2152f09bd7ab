package virtual

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/notify"
)

// Index keeps every virtual server's definition, from a ConfigMap informer
// on the label, and the real servers' names, from a Deployment informer
// (a virtual server never takes the endpoint of a real one). Definitions
// are parsed and checked again for a namespace on any change in it.
type Index struct {
	log *slog.Logger
	// known reports real servers the Deployments do not show (bare pods,
	// servers known to discovery only).
	known  func(namespace, server string) bool
	report func(cm *corev1.ConfigMap, s *Server)

	mu      sync.RWMutex
	servers map[string]*Server // "ns/name" -> as defined (valid or not)
	changes notify.Keyed       // "ns/name": its definition changed

	factories []informers.SharedInformerFactory
	cms, deps []cache.SharedIndexInformer
	synced    []cache.InformerSynced
}

func newIndex(client kubernetes.Interface, namespaces []string, known func(string, string) bool, log *slog.Logger) (*Index, error) {
	ix := &Index{log: log, known: known, servers: map[string]*Server{}}
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	for _, ns := range namespaces {
		cf := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = api.VirtualServerLabel }))
		df := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = api.ServerLabel }))
		cm, dep := cf.Core().V1().ConfigMaps().Informer(), df.Apps().V1().Deployments().Informer()
		// A Deployment's labels are all this reads: the rest is dropped.
		if err := dep.SetTransform(deploymentLabels); err != nil {
			return nil, fmt.Errorf("deployment informer transform: %w", err)
		}
		for _, inf := range []cache.SharedIndexInformer{cm, dep} {
			if _, err := inf.AddEventHandler(ix.handler()); err != nil {
				return nil, fmt.Errorf("virtual server informer handler: %w", err)
			}
		}
		ix.factories = append(ix.factories, cf, df)
		ix.cms, ix.deps = append(ix.cms, cm), append(ix.deps, dep)
		ix.synced = append(ix.synced, cm.HasSynced, dep.HasSynced)
	}
	return ix, nil
}

func deploymentLabels(obj any) (any, error) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return obj, nil
	}
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: d.Name, Namespace: d.Namespace, Labels: d.Labels,
		UID: d.UID, ResourceVersion: d.ResourceVersion}}, nil
}

func (ix *Index) handler() cache.ResourceEventHandler {
	ns := func(obj any) string {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if m, ok := obj.(metav1.Object); ok {
			return m.GetNamespace()
		}
		return ""
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { ix.rebuild(ns(obj)) },
		UpdateFunc: func(_, obj any) { ix.rebuild(ns(obj)) },
		DeleteFunc: func(obj any) { ix.rebuild(ns(obj)) },
	}
}

func (ix *Index) start(ctx context.Context) {
	for _, f := range ix.factories {
		f.Start(ctx.Done())
	}
}

// byNamespace lists an informer family's objects of one namespace.
func byNamespace[T any](infs []cache.SharedIndexInformer, ns string) []T {
	var out []T
	for _, inf := range infs {
		objs, _ := inf.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
		for _, o := range objs {
			if t, ok := o.(T); ok {
				out = append(out, t)
			}
		}
	}
	return out
}

// rebuild parses and checks the namespace's definitions again.
func (ix *Index) rebuild(ns string) {
	cms := byNamespace[*corev1.ConfigMap](ix.cms, ns)
	sort.Slice(cms, func(i, j int) bool { return cms[i].Name < cms[j].Name })
	real := map[string]bool{}
	for _, d := range byNamespace[*appsv1.Deployment](ix.deps, ns) {
		real[d.Labels[api.ServerLabel]] = true
	}
	defs := map[string][]*corev1.ConfigMap{}
	for _, cm := range cms {
		defs[cm.Labels[api.VirtualServerLabel]] = append(defs[cm.Labels[api.VirtualServerLabel]], cm)
	}
	next := map[string]*Server{}
	for name, group := range defs {
		next[ns+"/"+name] = ix.check(ns, name, group, defs, real)
	}
	ix.swap(ns, next)
	for _, cm := range cms {
		if ix.report != nil {
			ix.report(cm, next[ns+"/"+cm.Labels[api.VirtualServerLabel]])
		}
	}
}

// check builds one virtual server from the ConfigMaps labelled with its
// name: exactly one, valid, and no member that is itself virtual.
func (ix *Index) check(ns, name string, group []*corev1.ConfigMap, defs map[string][]*corev1.ConfigMap, real map[string]bool) *Server {
	names := make([]string, len(group))
	for i, cm := range group {
		names[i] = cm.Name
	}
	if len(group) > 1 {
		return &Server{Namespace: ns, Name: name, ConfigMaps: names,
			Problems: []string{fmt.Sprintf("defined by %d ConfigMaps (%s): exactly one may carry %s=%s", len(group), strings.Join(names, ", "), api.VirtualServerLabel, name)}}
	}
	def, problems := parseConfigMap(group[0])
	isReal := func(s string) bool { return real[s] || (ix.known != nil && ix.known(ns, s)) }
	for i, m := range def.Members {
		if _, virtual := defs[m.Server]; virtual && !isReal(m.Server) {
			problems = append(problems, fmt.Sprintf("members[%d].server: %s is a virtual server: members must be MCP servers", i, m.Server))
		}
		if m.Server == name {
			problems = append(problems, fmt.Sprintf("members[%d].server: %s is this virtual server's own name", i, m.Server))
		}
	}
	s := &Server{Namespace: ns, Name: name, Problems: problems}
	if len(problems) == 0 {
		s = newServer(ns, name, def)
	}
	s.ConfigMaps, s.Shadowed = names, isReal(name)
	return s
}

// swap installs a namespace's servers and tells listeners of the ones that
// changed.
func (ix *Index) swap(ns string, next map[string]*Server) {
	ix.mu.Lock()
	var changed []string
	for key, old := range ix.servers {
		if strings.HasPrefix(key, ns+"/") {
			if n := next[key]; n == nil || !sameServer(old, n) {
				changed = append(changed, key)
			}
			delete(ix.servers, key)
		}
	}
	for key, s := range next {
		if _, had := ix.servers[key]; !had && !slices.Contains(changed, key) {
			changed = append(changed, key)
		}
		ix.servers[key] = s
	}
	ix.mu.Unlock()
	for _, key := range changed {
		ix.changes.Notify(key)
	}
}

func sameServer(a, b *Server) bool {
	return a.Shadowed == b.Shadowed && slices.Equal(a.Problems, b.Problems) && reflect.DeepEqual(a.Def, b.Def)
}

// Lookup returns the virtual server of namespace/name as defined, valid or
// not; nil when there is none. A real server of the name shadows it.
func (ix *Index) Lookup(namespace, name string) *Server {
	ix.mu.RLock()
	s := ix.servers[namespace+"/"+name]
	ix.mu.RUnlock()
	if s == nil {
		return nil
	}
	if !s.Shadowed && ix.known != nil && ix.known(namespace, name) {
		c := *s // a real server's pods appeared since the last rebuild
		c.Shadowed = true
		return &c
	}
	return s
}

// hasServer reports whether a real server of the name exists: a labelled
// Deployment, or what known reports.
func (ix *Index) hasServer(namespace, name string) bool {
	for _, d := range byNamespace[*appsv1.Deployment](ix.deps, namespace) {
		if d.Labels[api.ServerLabel] == name {
			return true
		}
	}
	return ix.known != nil && ix.known(namespace, name)
}

// List returns the virtual servers of namespace ns ("" for all), sorted.
func (ix *Index) List(ns string) []*Server {
	ix.mu.RLock()
	var out []*Server
	for _, s := range ix.servers {
		if ns == "" || s.Namespace == ns {
			out = append(out, s)
		}
	}
	ix.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	for i, s := range out {
		out[i] = ix.Lookup(s.Namespace, s.Name)
	}
	return out
}

// Changed returns a channel closed at the next change of namespace/name's
// definition (edited, made invalid, shadowed, deleted).
func (ix *Index) Changed(namespace, name string) <-chan struct{} {
	return ix.changes.Changed(namespace + "/" + name)
}
