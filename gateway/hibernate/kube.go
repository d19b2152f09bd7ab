package hibernate

import (
	"context"
	"encoding/json"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// fieldManager names the gateway's writes in managedFields.
const fieldManager = "mcp-gateway"

// writeRecord sets the hibernation record of d (nil removes it), provided
// d is unchanged since it was read: the resourceVersion in the merge patch
// is a precondition, so the API server answers 409 to a stale writer. The
// patch names one annotation: no other field, label or annotation changes.
func (m *Manager) writeRecord(ctx context.Context, d *appsv1.Deployment, r *api.Hibernation) (*appsv1.Deployment, error) {
	var v any // JSON null removes the key
	if r != nil {
		v = api.EncodeHibernation(*r)
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"resourceVersion": d.ResourceVersion,
		"annotations":     map[string]any{api.AnnHibernation: v},
	}})
	if err != nil {
		return nil, err
	}
	return m.opts.Client.AppsV1().Deployments(d.Namespace).Patch(ctx, d.Name, types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: fieldManager})
}

// scale sets d's replicas through the scale subresource, provided d is
// unchanged since it was read (the Scale's resourceVersion is the
// Deployment's). It returns d as it now is, as far as the answer tells.
func (m *Manager) scale(ctx context.Context, d *appsv1.Deployment, n int32) (*appsv1.Deployment, error) {
	s := &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: d.Name, Namespace: d.Namespace, ResourceVersion: d.ResourceVersion},
		Spec:       autoscalingv1.ScaleSpec{Replicas: n},
	}
	got, err := m.opts.Client.AppsV1().Deployments(d.Namespace).UpdateScale(ctx, d.Name, s, metav1.UpdateOptions{FieldManager: fieldManager})
	if err != nil {
		return nil, err
	}
	out := d.DeepCopy()
	out.Spec.Replicas = &n
	out.ResourceVersion = got.ResourceVersion
	return out, nil
}

// get reads d from the API server (after a conflict the cache may lag).
func (m *Manager) get(ctx context.Context, d *appsv1.Deployment) (*appsv1.Deployment, error) {
	return m.opts.Client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
}
