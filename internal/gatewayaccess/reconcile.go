package gatewayaccess

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// reconcile makes namespace ns hold what it should: the bundle ConfigMap
// and the NetworkPolicy while it has MCP servers, neither once it has
// none. The platform namespace always keeps the bundle: it is the record
// of what was published.
func (c *Controller) reconcile(ctx context.Context, ns string) error {
	servers := c.hasServers(ns)
	bundle := c.bundle()
	// Without a source (its Secret gone, or none configured) the copies
	// stay as they are: pods that still run trust what they trusted.
	if bundle != nil || !servers {
		if err := c.syncConfigMap(ctx, ns, bundle != nil && (servers || ns == c.PlatformNamespace), bundle); err != nil {
			return err
		}
	}
	return c.syncPolicy(ctx, ns, servers && c.NetworkPolicy.Managed)
}

func (c *Controller) syncConfigMap(ctx context.Context, ns string, want bool, bundle []byte) error {
	cur := c.configMap(ns)
	cms := c.Client.CoreV1().ConfigMaps(ns)
	switch {
	case cur != nil && !ours(cur):
		if want {
			c.conflict("ConfigMap", ns)
		}
		return nil
	case !want && cur == nil:
		return nil
	case !want:
		if ns == c.PlatformNamespace {
			return nil // the record stays while the source is away
		}
		return ignoreNotFound(cms.Delete(ctx, cur.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cur.UID}}), "deleting ConfigMap "+ns+"/"+cur.Name)
	}
	desired := bundleConfigMap(ns, bundle)
	if cur == nil {
		_, err := cms.Create(ctx, desired, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil // the informer has not seen it yet: the event brings us back
		}
		if err == nil {
			c.Logger.Info("gateway CA bundle published", "namespace", ns)
		}
		return wrap(err, "creating ConfigMap "+ns+"/"+desired.Name)
	}
	if cur.Data[api.GatewayCAKey] == desired.Data[api.GatewayCAKey] && len(cur.Data) == 1 && len(cur.BinaryData) == 0 &&
		labelsEqual(cur.Labels, desired.Labels) {
		return nil
	}
	upd := cur.DeepCopy()
	upd.Data, upd.BinaryData = desired.Data, nil
	for k, v := range desired.Labels {
		upd.Labels[k] = v
	}
	if upd.Annotations == nil {
		upd.Annotations = map[string]string{}
	}
	for k, v := range desired.Annotations {
		upd.Annotations[k] = v
	}
	_, err := cms.Update(ctx, upd, metav1.UpdateOptions{})
	if err == nil {
		c.Logger.Info("gateway CA bundle updated", "namespace", ns)
	}
	return wrap(err, "updating ConfigMap "+ns+"/"+cur.Name)
}

func (c *Controller) syncPolicy(ctx context.Context, ns string, want bool) error {
	cur := c.policy(ns)
	nps := c.Client.NetworkingV1().NetworkPolicies(ns)
	switch {
	case cur != nil && !ours(cur):
		if want {
			c.conflict("NetworkPolicy", ns)
		}
		return nil
	case !want && cur == nil:
		return nil
	case !want:
		err := nps.Delete(ctx, cur.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cur.UID}})
		if err == nil {
			c.Logger.Info("network policy removed (no MCP server left, or opted out)", "namespace", ns)
		}
		return ignoreNotFound(err, "deleting NetworkPolicy "+ns+"/"+cur.Name)
	}
	desired := gatewayOnlyPolicy(ns, c.NetworkPolicy)
	if cur == nil {
		_, err := nps.Create(ctx, desired, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		if err == nil {
			c.Logger.Info("network policy created: only the gateway reaches the MCP servers", "namespace", ns)
		}
		return wrap(err, "creating NetworkPolicy "+ns+"/"+desired.Name)
	}
	if equality.Semantic.DeepEqual(cur.Spec, desired.Spec) && labelsEqual(cur.Labels, desired.Labels) {
		return nil
	}
	upd := cur.DeepCopy()
	upd.Spec = desired.Spec
	for k, v := range desired.Labels {
		upd.Labels[k] = v
	}
	_, err := nps.Update(ctx, upd, metav1.UpdateOptions{})
	return wrap(err, "updating NetworkPolicy "+ns+"/"+cur.Name)
}

func wrap(err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func ignoreNotFound(err error, what string) error {
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone already, or replaced: the informer brings us back
	}
	return wrap(err, what)
}
