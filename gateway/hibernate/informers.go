package hibernate

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// Index names.
const (
	byServer = "server" // Deployments by namespace/server label
	byTarget = "target" // HPAs by namespace/Deployment they scale
)

// watches are the informers of what hibernation decides from: the labelled
// Deployments and the HorizontalPodAutoscalers of the served namespaces,
// and the activity Leases of the gateway's namespace.
type watches struct {
	factories   []informers.SharedInformerFactory
	deployments []cache.SharedIndexInformer
	hpas        []cache.SharedIndexInformer
	leases      cache.SharedIndexInformer
	synced      []cache.InformerSynced
}

// events receives what the informers see.
type events interface {
	deploymentChanged(d *appsv1.Deployment, deleted bool)
	hpaChanged(h *autoscalingv2.HorizontalPodAutoscaler)
}

func newInformers(client kubernetes.Interface, namespaces []string, own string, ev events) (*watches, error) {
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	inf := &watches{}
	for _, ns := range namespaces {
		servers := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = api.ServerLabel }))
		d := servers.Apps().V1().Deployments().Informer()
		if err := watchDeployments(d, ev); err != nil {
			return nil, err
		}
		all := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns))
		h := all.Autoscaling().V2().HorizontalPodAutoscalers().Informer()
		if err := watchHPAs(h, ev); err != nil {
			return nil, err
		}
		inf.factories = append(inf.factories, servers, all)
		inf.deployments = append(inf.deployments, d)
		inf.hpas = append(inf.hpas, h)
		inf.synced = append(inf.synced, d.HasSynced, h.HasSynced)
	}
	sel := labels.Set{api.ManagedByLabel: api.ManagedByValue, api.ComponentLabel: api.ActivityComponent}.String()
	leases := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(own),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = sel }))
	inf.leases = leases.Coordination().V1().Leases().Informer()
	inf.factories = append(inf.factories, leases)
	inf.synced = append(inf.synced, inf.leases.HasSynced)
	return inf, nil
}

func watchDeployments(d cache.SharedIndexInformer, ev events) error {
	// Managed fields are most of an object's bytes and never read here.
	if err := d.SetTransform(stripManagedFields); err != nil {
		return fmt.Errorf("deployment informer transform: %w", err)
	}
	if err := d.AddIndexers(cache.Indexers{byServer: func(obj any) ([]string, error) {
		return []string{serverKey(obj.(*appsv1.Deployment))}, nil
	}}); err != nil {
		return fmt.Errorf("deployment index: %w", err)
	}
	_, err := d.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { ev.deploymentChanged(obj.(*appsv1.Deployment), false) },
		UpdateFunc: func(_, obj any) { ev.deploymentChanged(obj.(*appsv1.Deployment), false) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if d, ok := obj.(*appsv1.Deployment); ok {
				ev.deploymentChanged(d, true)
			}
		},
	})
	return err
}

func watchHPAs(h cache.SharedIndexInformer, ev events) error {
	if err := h.AddIndexers(cache.Indexers{byTarget: func(obj any) ([]string, error) {
		if t := target(obj.(*autoscalingv2.HorizontalPodAutoscaler)); t != "" {
			return []string{t}, nil
		}
		return nil, nil
	}}); err != nil {
		return fmt.Errorf("hpa index: %w", err)
	}
	changed := func(obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if hpa, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler); ok {
			ev.hpaChanged(hpa)
		}
	}
	_, err := h.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: changed, UpdateFunc: func(_, obj any) { changed(obj) }, DeleteFunc: changed,
	})
	return err
}

// target is namespace/name of the Deployment an HPA scales, "" for others.
// KEDA's ScaledObjects work through an HPA of their own, so they are found
// here too.
func target(h *autoscalingv2.HorizontalPodAutoscaler) string {
	ref := h.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || (ref.APIVersion != "apps/v1" && ref.APIVersion != "") {
		return ""
	}
	return h.Namespace + "/" + ref.Name
}

func stripManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

func (inf *watches) start(ctx context.Context) {
	for _, f := range inf.factories {
		f.Start(ctx.Done())
	}
}

// deploymentIndex finds Deployments over every served namespace.
func (inf *watches) deploymentIndex() multiIndex { return multiIndex(inf.deployments) }

// hpaFor names an HPA targeting the Deployment, "" for none.
func (inf *watches) hpaFor(d *appsv1.Deployment) string {
	objs, _ := multiIndex(inf.hpas).ByIndex(byTarget, key(d))
	if len(objs) == 0 {
		return ""
	}
	return objs[0].(*autoscalingv2.HorizontalPodAutoscaler).Name
}

// deployment returns the cached Deployment namespace/name.
func (inf *watches) deployment(k string) *appsv1.Deployment {
	for _, d := range inf.deployments {
		if obj, ok, _ := d.GetIndexer().GetByKey(k); ok {
			return obj.(*appsv1.Deployment)
		}
	}
	return nil
}

// listDeployments returns every cached Deployment.
func (inf *watches) listDeployments() []*appsv1.Deployment {
	var out []*appsv1.Deployment
	for _, d := range inf.deployments {
		for _, obj := range d.GetStore().List() {
			out = append(out, obj.(*appsv1.Deployment))
		}
	}
	return out
}

// multiIndex queries one index over the informers of several namespaces.
type multiIndex []cache.SharedIndexInformer

func (mi multiIndex) ByIndex(name, value string) ([]any, error) {
	var out []any
	for _, inf := range mi {
		objs, err := inf.GetIndexer().ByIndex(name, value)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}
