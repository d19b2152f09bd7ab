// Package gatewayaccess is the controller that keeps, in every namespace
// with MCP servers, what lets only the gateway in: the ConfigMap
// mcp-gateway-ca with the public CA bundle of the gateway's client
// certificate (the sidecars verify their caller against it and re-read it
// when the kubelet updates the mount, so a CA rotation needs no rollout),
// and the NetworkPolicy mcp-gateway-only (defence in depth where the
// network plugin enforces policies). Both go when the namespace's last MCP
// server goes. Objects of those names that it did not write (without its
// labels) are never touched. It runs in mcp-webhook, on one replica at a
// time.
package gatewayaccess

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	coreinformers "k8s.io/client-go/informers/core/v1"
	netinformers "k8s.io/client-go/informers/networking/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// Policy is the resolved NetworkPolicy configuration.
type Policy struct {
	// Managed: keep the policy; false deletes the ones this controller wrote.
	Managed          bool
	GatewayNamespace string
	GatewayPodLabels map[string]string
	From             []networkingv1.NetworkPolicyPeer
}

// Options configure a Controller.
type Options struct {
	Client   kubernetes.Interface
	Metadata metadata.Interface
	// PlatformNamespace holds the bundle's source Secret and the
	// controller's record of the published bundle (the ConfigMap
	// mcp-gateway-ca there, which only platform admins can write: the
	// trust of every sidecar never comes from a tenant's namespace).
	PlatformNamespace string
	// BundleSecret and BundleKey: where the CA bundle comes from; empty
	// BundleSecret publishes none (callerAuth none).
	BundleSecret, BundleKey string
	// KeepPrevious keeps a CA certificate that left the source trusted
	// until it expires (cert-manager mode; self-signed mode's source is
	// already the overlapping bundle).
	KeepPrevious  bool
	NetworkPolicy Policy
	Logger        *slog.Logger
	// Resync re-checks every namespace this often (expired certificates
	// leave the bundle); 0: 10 minutes.
	Resync time.Duration
	// Selector narrows the Deployments that count as MCP servers (tests);
	// empty: every Deployment with the server label.
	Selector string
}

// Controller reconciles one namespace at a time.
type Controller struct {
	Options
	deployments cache.SharedIndexInformer
	configMaps  cache.SharedIndexInformer
	policies    cache.SharedIndexInformer
	source      cache.SharedIndexInformer
	queue       workqueue.TypedRateLimitingInterface[string]

	mu        sync.Mutex
	conflicts map[string]bool // "kind ns" reported as not ours
}

var deploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

// New builds a Controller; Run starts it. A Controller runs once: under
// leader election each term builds a new one.
func New(o Options) (*Controller, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Resync == 0 {
		o.Resync = 10 * time.Minute
	}
	if o.Selector == "" {
		o.Selector = api.ServerLabel
	}
	byName := func(name string) func(*metav1.ListOptions) {
		return func(lo *metav1.ListOptions) {
			lo.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		}
	}
	nsIndex := cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}
	c := &Controller{
		Options: o,
		deployments: metadatainformer.NewFilteredMetadataInformer(o.Metadata, deploymentsGVR, metav1.NamespaceAll, 0, nsIndex,
			func(lo *metav1.ListOptions) { lo.LabelSelector = o.Selector }).Informer(),
		configMaps: coreinformers.NewFilteredConfigMapInformer(o.Client, metav1.NamespaceAll, 0, nsIndex, byName(api.GatewayCAConfigMap)),
		policies:   netinformers.NewFilteredNetworkPolicyInformer(o.Client, metav1.NamespaceAll, 0, nsIndex, byName(api.GatewayOnlyPolicy)),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "gateway-access"}),
		conflicts: map[string]bool{},
	}
	secretName := o.BundleSecret
	if secretName == "" {
		secretName = "-" // no source: an informer that finds nothing
	}
	c.source = coreinformers.NewFilteredSecretInformer(o.Client, o.PlatformNamespace, 0, cache.Indexers{}, byName(secretName))
	byNamespace := func(obj any) {
		if m, err := meta(obj); err == nil {
			c.queue.Add(m.GetNamespace())
		}
	}
	for _, inf := range []cache.SharedIndexInformer{c.deployments, c.configMaps, c.policies} {
		if _, err := inf.AddEventHandler(handler(byNamespace)); err != nil {
			return nil, err
		}
	}
	// A new bundle goes to every namespace.
	if _, err := c.source.AddEventHandler(handler(func(any) { c.enqueueAll() })); err != nil {
		return nil, err
	}
	return c, nil
}

func handler(f func(any)) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{AddFunc: f, UpdateFunc: func(_, n any) { f(n) }, DeleteFunc: f}
}

func meta(obj any) (metav1.Object, error) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("not an object: %T", obj)
	}
	return m, nil
}

// enqueueAll queues every namespace that has servers or objects of ours,
// and the platform namespace (the record).
func (c *Controller) enqueueAll() {
	c.queue.Add(c.PlatformNamespace)
	for _, inf := range []cache.SharedIndexInformer{c.deployments, c.configMaps, c.policies} {
		for _, ns := range inf.GetIndexer().ListIndexFuncValues(cache.NamespaceIndex) {
			c.queue.Add(ns)
		}
	}
}

// Run reconciles until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	for _, inf := range []cache.SharedIndexInformer{c.deployments, c.configMaps, c.policies, c.source} {
		go inf.RunWithContext(ctx)
	}
	if !cache.WaitForCacheSync(ctx.Done(), c.deployments.HasSynced, c.configMaps.HasSynced, c.policies.HasSynced, c.source.HasSynced) {
		return errors.New("gateway access: caches did not sync")
	}
	c.Logger.Info("gateway access controller running", "bundleSecret", c.BundleSecret, "networkPolicy", c.NetworkPolicy.Managed)
	c.enqueueAll()
	go func() {
		for c.processNext(ctx) {
		}
	}()
	t := time.NewTicker(c.Resync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			c.enqueueAll()
		}
	}
}

func (c *Controller) processNext(ctx context.Context) bool {
	ns, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(ns)
	if err := c.reconcile(ctx, ns); err != nil {
		c.Logger.Warn("gateway access: will retry", "namespace", ns, "error", err)
		c.queue.AddRateLimited(ns)
		return true
	}
	c.queue.Forget(ns)
	return true
}

// hasServers reports whether a labelled Deployment exists in ns (one that
// is being deleted counts: its pods still drain).
func (c *Controller) hasServers(ns string) bool {
	objs, _ := c.deployments.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
	return len(objs) > 0
}

// bundle is the CA bundle to publish, nil when there is none (yet).
func (c *Controller) bundle() []byte {
	if c.BundleSecret == "" {
		return nil
	}
	obj, ok, _ := c.source.GetStore().GetByKey(c.PlatformNamespace + "/" + c.BundleSecret)
	if !ok {
		return nil
	}
	b := obj.(*corev1.Secret).Data[c.BundleKey]
	if !hasCertificate(b) {
		return nil
	}
	if c.KeepPrevious {
		if rec := c.configMap(c.PlatformNamespace); rec != nil && ours(rec) {
			b = mergeBundles(b, []byte(rec.Data[api.GatewayCAKey]), time.Now())
		}
	}
	return b
}

func (c *Controller) configMap(ns string) *corev1.ConfigMap {
	obj, ok, _ := c.configMaps.GetStore().GetByKey(ns + "/" + api.GatewayCAConfigMap)
	if !ok {
		return nil
	}
	return obj.(*corev1.ConfigMap)
}

func (c *Controller) policy(ns string) *networkingv1.NetworkPolicy {
	obj, ok, _ := c.policies.GetStore().GetByKey(ns + "/" + api.GatewayOnlyPolicy)
	if !ok {
		return nil
	}
	return obj.(*networkingv1.NetworkPolicy)
}

// conflict reports, once per object, one of our names taken by an object
// we did not write.
func (c *Controller) conflict(kind, ns string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if key := kind + " " + ns; !c.conflicts[key] {
		c.conflicts[key] = true
		c.Logger.Warn("gateway access: an object of this name exists and was not written by mcp-orchestrator; leaving it alone",
			"kind", kind, "namespace", ns, "labels", fmt.Sprintf("%s=%s,%s=%s", api.ManagedByLabel, api.ManagedByValue, api.ComponentLabel, ComponentValue))
	}
}

func labelsEqual(a, b map[string]string) bool {
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}
