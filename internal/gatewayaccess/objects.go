package gatewayaccess

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// ComponentValue of api.ComponentLabel tells the objects of this
// controller from the product's other managed objects.
const ComponentValue = "gateway-access"

func managedLabels() map[string]string {
	return map[string]string{api.ManagedByLabel: api.ManagedByValue, api.ComponentLabel: ComponentValue}
}

// ours reports whether an object carries the labels this controller writes.
func ours(m metav1.Object) bool {
	return m.GetLabels()[api.ManagedByLabel] == api.ManagedByValue && m.GetLabels()[api.ComponentLabel] == ComponentValue
}

// bundleConfigMap is the gateway CA bundle ConfigMap of a namespace.
func bundleConfigMap(ns string, bundle []byte) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: api.GatewayCAConfigMap, Namespace: ns, Labels: managedLabels(),
			Annotations: map[string]string{"kubernetes.io/description": "CA certificates of the MCP gateway's client certificate: the MCP server sidecars of this namespace serve only clients it signed. Public data, kept by mcp-orchestrator."}},
		Data: map[string]string{api.GatewayCAKey: string(bundle)},
	}
}

// gatewayOnlyPolicy admits to the sidecar port of the namespace's MCP
// server pods only the gateway's pods and the configured extra peers.
// Traffic from the pod's own node (the kubelet's probes) is allowed by
// NetworkPolicy semantics whatever the rules say.
func gatewayOnlyPolicy(ns string, p Policy) *networkingv1.NetworkPolicy {
	from := []networkingv1.NetworkPolicyPeer{{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: p.GatewayNamespace}},
		PodSelector:       &metav1.LabelSelector{MatchLabels: p.GatewayPodLabels},
	}}
	from = append(from, p.From...)
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: api.GatewayOnlyPolicy, Namespace: ns, Labels: managedLabels()},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: api.ServerLabel, Operator: metav1.LabelSelectorOpExists}}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  from,
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromString(api.SidecarPortName))}},
			}},
		},
	}
}

// mergeBundles returns the certificates of current followed by those of
// previous that current lacks and that are still valid at now: a CA
// certificate that left the source stays trusted until it expires, so the
// client certificates it signed keep working (cert-manager mode, whose CA
// keeps its key across renewals).
func mergeBundles(current, previous []byte, now time.Time) []byte {
	out := append([]byte(nil), current...)
	seen := map[string]bool{}
	for _, der := range certificates(current) {
		seen[string(der)] = true
	}
	for _, der := range certificates(previous) {
		c, err := x509.ParseCertificate(der)
		if err != nil || seen[string(der)] || !now.Before(c.NotAfter) {
			continue
		}
		seen[string(der)] = true
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return out
}

func certificates(b []byte) [][]byte {
	var out [][]byte
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return out
		}
		if blk.Type == "CERTIFICATE" {
			out = append(out, blk.Bytes)
		}
	}
}

// hasCertificate reports whether b holds at least one certificate.
func hasCertificate(b []byte) bool { return len(certificates(bytes.TrimSpace(b))) > 0 }
