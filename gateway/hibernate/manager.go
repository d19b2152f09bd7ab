// Package hibernate scales idle MCP servers to zero and wakes them on the
// first request through the gateway.
//
//   - Activity: every replica records the MCP requests it routes in one
//     coordination.k8s.io Lease per server in its own namespace, at most
//     one write per server per interval (activity.go).
//   - The hibernator: the replica holding the Lease HibernatorLease decides
//     for every labelled Deployment (hibernator.go); before it hibernates a
//     server it asks each pod's sidecar for open sessions and streams
//     (probe.go).
//   - Wakes: any replica that gets a request for a hibernated server wakes
//     it and holds the request until a pod takes requests (wake.go).
//
// Every decision is a pure function of what was observed (decide.go), one
// API call at a time with a compare-and-swap on the Deployment's
// resourceVersion (drive.go), so replicas never race and a crash between
// two calls leaves a state any replica continues from. Replicas go through
// the scale subresource; the record (api.Hibernation) through a merge patch
// of one annotation: nothing else of the Deployment is touched.
package hibernate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/discovery"
	"github.com/archestra-ai/mcp-orchestrator/internal/notify"
)

// Discovery is what hibernation needs from the gateway's pod registry.
type Discovery interface {
	Pick(namespace, server string, exclude map[string]bool) *discovery.Endpoint
	Endpoints(namespace, server string) []*discovery.Endpoint
	Changed(namespace, server string) <-chan struct{}
	MarkServing(uid string, d time.Duration)
}

// Options configure a Manager.
type Options struct {
	Client kubernetes.Interface
	// Namespaces served; empty: all.
	Namespaces []string
	// Namespace is the gateway's own: the Leases live there.
	Namespace string
	// Identity names this replica (its pod) in Leases and records.
	Identity string
	Pods     Discovery
	// Default is the hibernate-after of Deployments without the
	// annotation (--hibernate-after-default); 0: off.
	Default time.Duration
	// MinWindow raises shorter windows (0: api.MinHibernateAfter).
	MinWindow time.Duration
	// WakeTimeout bounds how long a request is held (0: 30s).
	WakeTimeout time.Duration
	// ActivityInterval bounds activity writes: one per server per interval
	// and replica (0: 30s).
	ActivityInterval time.Duration
	// LeaseDuration, RenewDeadline, RetryPeriod of the hibernator's leader
	// election (0: 15s, 10s, 2s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// HTTP asks the sidecars (nil: a client with short timeouts).
	HTTP    *http.Client
	Log     *slog.Logger
	Metrics prometheus.Registerer
	Now     func() time.Time
}

// Manager is hibernation in one gateway replica.
type Manager struct {
	opts        Options
	pods        Discovery
	log         *slog.Logger
	now         func() time.Time
	metrics     *metrics
	activity    *Activity
	informers   *watches
	recorder    record.EventRecorder
	broadcaster record.EventBroadcaster
	changes     notify.Keyed // Deployments by namespace/name
	term        atomic.Pointer[term]
	said        sync.Map // notes given: uid/reason/message

	ctx   context.Context // Start's: wakes outlive the request that began them
	mu    sync.Mutex
	wakes map[string]*wakeRun // namespace/name -> the wake under way here
}

// New builds a Manager; Start runs it.
func New(o Options) (*Manager, error) {
	if o.Client == nil || o.Pods == nil || o.Namespace == "" || o.Identity == "" {
		return nil, errors.New("hibernate: Client, Pods, Namespace and Identity are required")
	}
	o.MinWindow = cmp.Or(o.MinWindow, api.MinHibernateAfter)
	o.WakeTimeout = cmp.Or(o.WakeTimeout, 30*time.Second)
	o.ActivityInterval = cmp.Or(o.ActivityInterval, 30*time.Second)
	o.Log = cmp.Or(o.Log, slog.Default())
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, ResponseHeaderTimeout: 2 * time.Second}}
	}
	if o.Metrics == nil {
		o.Metrics = prometheus.NewRegistry()
	}
	m := &Manager{opts: o, pods: o.Pods, log: o.Log, now: o.Now, metrics: newMetrics(o.Metrics),
		broadcaster: record.NewBroadcaster(), wakes: map[string]*wakeRun{}, ctx: context.Background()}
	m.recorder = m.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "mcp-gateway"})
	inf, err := newInformers(o.Client, o.Namespaces, o.Namespace, m)
	if err != nil {
		return nil, err
	}
	m.informers = inf
	m.activity = newActivity(m, inf.leases)
	return m, nil
}

// Start runs the informers, the activity writer and the hibernator's
// leader election until ctx ends.
func (m *Manager) Start(ctx context.Context) {
	m.ctx = ctx
	m.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: m.opts.Client.CoreV1().Events("")})
	m.informers.start(ctx)
	go m.activity.run(ctx)
	go m.elect(ctx)
	go func() {
		<-ctx.Done()
		m.broadcaster.Shutdown()
	}()
}

// WaitForSync blocks until the informers have their first lists.
func (m *Manager) WaitForSync(ctx context.Context) bool {
	return cache.WaitForCacheSync(ctx.Done(), m.informers.synced...)
}

// HasSynced reports whether the informers have their first lists.
func (m *Manager) HasSynced() bool {
	for _, s := range m.informers.synced {
		if !s() {
			return false
		}
	}
	return true
}

// Touch records an MCP request for namespace/server (proxy.Activity).
func (m *Manager) Touch(namespace, server string) { m.activity.Touch(namespace, server) }

// Known reports whether namespace/server has a Deployment: a hibernated
// server has no pod the registry knows.
func (m *Manager) Known(namespace, server string) bool {
	return m.deploymentFor(namespace, server) != nil
}

// Hibernated reports whether namespace/server is hibernated (or on its way
// down or back up): a request wakes it.
func (m *Manager) Hibernated(namespace, server string) bool {
	d := m.deploymentFor(namespace, server)
	return d != nil && wakeable(d)
}

// deploymentFor returns the Deployment labelled with server in namespace;
// when several claim the name, the first by name, as the operators' API.
func (m *Manager) deploymentFor(namespace, server string) *appsv1.Deployment {
	objs, err := m.informers.deploymentIndex().ByIndex(byServer, namespace+"/"+server)
	if err != nil || len(objs) == 0 {
		return nil
	}
	sort.Slice(objs, func(i, j int) bool {
		return objs[i].(*appsv1.Deployment).Name < objs[j].(*appsv1.Deployment).Name
	})
	return objs[0].(*appsv1.Deployment)
}

// Window is the effective hibernate-after of d: its annotation, else the
// default, raised to the floor; 0 when off (or unreadable: never hibernate
// on doubt, and the webhook refuses such values).
func (m *Manager) Window(d *appsv1.Deployment) time.Duration {
	w := m.opts.Default
	if v, ok := d.Annotations[api.AnnHibernateAfter]; ok {
		var err error
		if w, err = api.ParseHibernateAfter(v); err != nil {
			return 0
		}
	}
	if w > 0 && w < m.opts.MinWindow {
		w = m.opts.MinWindow
	}
	return w
}

func key(d *appsv1.Deployment) string { return d.Namespace + "/" + d.Name }

func serverKey(d *appsv1.Deployment) string { return d.Namespace + "/" + d.Labels[api.ServerLabel] }

func errorf(d *appsv1.Deployment, format string, args ...any) error {
	return fmt.Errorf("deployment %s/%s: %s", d.Namespace, d.Name, fmt.Sprintf(format, args...))
}
