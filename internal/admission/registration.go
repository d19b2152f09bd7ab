package admission

import (
	"github.com/archestra-ai/mcp-orchestrator/api"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Names of the webhook configurations and their webhooks.
const (
	ConfigurationName = "mcp-orchestrator"
	MutatingWebhook   = "mutate.mcp.archestra.io"
	ValidatingWebhook = "validate.mcp.archestra.io"
)

// Registration describes where the API server reaches the webhook.
type Registration struct {
	// Service or URL, as in a WebhookClientConfig; Service paths are set here.
	Service *admissionregistrationv1.ServiceReference
	URL     string
	// CABundle verifies the serving certificate; empty when cert-manager's
	// CA injector fills it.
	CABundle []byte
	// PlatformNamespace is the webhook's own namespace, never admitted so
	// the webhook can always be repaired.
	PlatformNamespace string
}

// Configurations returns both webhook configurations: only Deployments with
// the server label reach the webhook (objectSelector), kube-system and the
// platform namespace never do, and failures fail closed.
func (r Registration) Configurations() (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration) {
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	equivalent := admissionregistrationv1.Equivalent
	ifNeeded := admissionregistrationv1.IfNeededReinvocationPolicy
	timeout := int32(5)
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule: admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"},
			Resources: []string{"deployments"}, Scope: ptr.To(admissionregistrationv1.NamespacedScope)},
	}}
	// Exists, not a value: the objectSelector also matches the old object,
	// so removing the label still reaches the webhook and undoes the injection.
	objectSelector := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: api.ServerLabel, Operator: metav1.LabelSelectorOpExists}}}
	namespaceSelector := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: corev1.LabelMetadataName, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"kube-system", r.PlatformNamespace}}}}
	client := func(path string) admissionregistrationv1.WebhookClientConfig {
		cc := admissionregistrationv1.WebhookClientConfig{CABundle: r.CABundle}
		if r.Service != nil {
			svc := *r.Service
			svc.Path = ptr.To(path)
			cc.Service = &svc
		} else {
			cc.URL = ptr.To(r.URL + path)
		}
		return cc
	}
	meta := metav1.ObjectMeta{Name: ConfigurationName, Labels: map[string]string{"app.kubernetes.io/name": "mcp-orchestrator"}}
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
		ObjectMeta: meta,
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: MutatingWebhook, ClientConfig: client(api.MutatePath), Rules: rules,
			ObjectSelector: objectSelector, NamespaceSelector: namespaceSelector,
			FailurePolicy: &fail, SideEffects: &none, MatchPolicy: &equivalent, ReinvocationPolicy: &ifNeeded,
			TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"},
		}},
	}
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
		ObjectMeta: *meta.DeepCopy(),
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: ValidatingWebhook, ClientConfig: client(api.ValidatePath), Rules: rules,
			ObjectSelector: objectSelector, NamespaceSelector: namespaceSelector,
			FailurePolicy: &fail, SideEffects: &none, MatchPolicy: &equivalent,
			TimeoutSeconds: &timeout, AdmissionReviewVersions: []string{"v1"},
		}},
	}
	return mutating, validating
}
