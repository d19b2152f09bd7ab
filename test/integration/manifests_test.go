package integration

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every overlay renders with kubectl's kustomize and the API server accepts
// every object it knows (server-side dry run: a real webhook registration
// would send this suite's Deployments to a Service that does not run here).
// cert-manager's objects are checked against its API types in
// certs/certmanager; envtest has no cert-manager CRDs.
func TestOverlaysAreAccepted(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	for _, tt := range []struct {
		overlay string
		want    []string
	}{
		{"self-signed", []string{"- --cert-mode=self-signed", "name: mcp-webhook-cabundle"}},
		{"cert-manager", []string{"cert-manager.io/inject-ca-from: mcp-system/mcp-webhook-tls", "mountPath: /etc/mcp-webhook/tls", "\nkind: Certificate\n", "\nkind: Issuer\n",
			"- --gateway-client-ca=cert-manager", "secretName: mcp-gateway-client-tls"}},
		{"local", []string{"- --cert-mode=self-signed", "replicas: 1"}},
	} {
		t.Run(tt.overlay, func(t *testing.T) {
			t.Parallel()
			rendered, stderr, err := kubectl(t, "", "kustomize", "../../manifests/overlays/"+tt.overlay)
			require.NoError(t, err, stderr)
			for _, kind := range []string{"Namespace", "ServiceAccount", "ClusterRole", "Role", "Deployment", "PodDisruptionBudget", "Service",
				"ConfigMap", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
				assert.Contains(t, rendered, "\nkind: "+kind+"\n")
			}
			for _, w := range tt.want {
				assert.Contains(t, rendered, w)
			}
			if tt.overlay == "cert-manager" {
				assert.Equal(t, 2, strings.Count(rendered, "cert-manager.io/inject-ca-from"), "both webhook configurations")
			}
			var known []string
			for _, doc := range strings.Split(rendered, "\n---\n") {
				if !strings.Contains(doc, "apiVersion: cert-manager.io/") {
					known = append(known, doc)
				}
			}
			// Fresh names: this suite already runs its own mcp-system and
			// mcp-orchestrator configurations, which an apply would merge with.
			ns := newNamespace(t)
			objects := strings.ReplaceAll(strings.Join(known, "\n---\n"), "mcp-system", ns)
			objects = strings.ReplaceAll(objects, "name: mcp-orchestrator\n", "name: mcp-orchestrator-"+ns+"\n")
			out, stderr, err := kubectl(t, objects, "apply", "--server-side", "--force-conflicts", "--dry-run=server", "--field-manager=mcp-test", "-f", "-")
			require.NoError(t, err, stderr)
			assert.Contains(t, out, "deployment.apps/mcp-webhook serverside-applied (server dry run)")
			assert.Contains(t, out, "deployment.apps/mcp-gateway serverside-applied (server dry run)")
			assert.Contains(t, out, "validatingwebhookconfiguration.admissionregistration.k8s.io/mcp-orchestrator-"+ns+" serverside-applied (server dry run)")
		})
	}
}

// The RBAC of the manifests grants what the webhook and the gateway do and
// nothing more.
func TestWebhookRBACIsLeastPrivilege(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	rendered, stderr, err := kubectl(t, "", "kustomize", "../../manifests/overlays/self-signed")
	require.NoError(t, err, stderr)
	var rbac []string
	for _, doc := range strings.Split(rendered, "\n---\n") {
		for _, kind := range []string{"ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"} {
			if strings.Contains(doc, "\nkind: "+kind+"\n") || strings.HasPrefix(doc, "kind: "+kind+"\n") {
				rbac = append(rbac, doc)
			}
		}
	}
	_, stderr, err = kubectl(t, strings.Join(rbac, "\n---\n"), "apply", "-f", "-")
	require.NoError(t, err, stderr)

	const sa = "system:serviceaccount:mcp-system:mcp-webhook"
	tests := []struct {
		args []string
		want bool
	}{
		{[]string{"get", "pods", "-n", "mcp-system"}, true},
		{[]string{"get", "pods", "-n", "team-a"}, false},
		{[]string{"list", "secrets", "--all-namespaces"}, true},
		{[]string{"create", "secrets", "-n", "team-a"}, true},
		{[]string{"list", "deployments.apps", "--all-namespaces"}, true},
		{[]string{"update", "deployments.apps", "-n", "team-a"}, false},
		{[]string{"delete", "pods", "-n", "team-a"}, false},
		{[]string{"create", "events", "-n", "team-a"}, true},
		{[]string{"update", "leases.coordination.k8s.io", "-n", "mcp-system"}, true},
		{[]string{"update", "leases.coordination.k8s.io", "-n", "team-a"}, false},
		{[]string{"update", "mutatingwebhookconfigurations/mcp-orchestrator"}, true},
		{[]string{"update", "mutatingwebhookconfigurations/someone-else"}, false},
		{[]string{"delete", "validatingwebhookconfigurations/mcp-orchestrator"}, false},
		// The gateway access controller.
		{[]string{"create", "configmaps", "-n", "team-a"}, true},
		{[]string{"delete", "configmaps", "-n", "team-a"}, true},
		{[]string{"patch", "configmaps", "-n", "team-a"}, false},
		{[]string{"create", "networkpolicies.networking.k8s.io", "-n", "team-a"}, true},
		{[]string{"delete", "networkpolicies.networking.k8s.io", "-n", "team-a"}, true},
		{[]string{"update", "services", "-n", "team-a"}, false},
	}
	for _, tt := range tests {
		out, _, _ := kubectl(t, "", append([]string{"auth", "can-i", "--as=" + sa}, tt.args...)...)
		assert.Equal(t, tt.want, strings.TrimSpace(out) == "yes", "can-i %v: %s", tt.args, out)
	}

	const gw = "system:serviceaccount:mcp-system:mcp-gateway"
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{[]string{"watch", "pods", "--all-namespaces"}, true},
		{[]string{"get", "pods/log", "-n", "team-a"}, true},
		{[]string{"patch", "deployments.apps", "-n", "team-a"}, true},
		{[]string{"delete", "deployments.apps", "-n", "team-a"}, false},
		{[]string{"create", "tokenreviews.authentication.k8s.io"}, true},
		{[]string{"create", "subjectaccessreviews.authorization.k8s.io"}, true},
		{[]string{"get", "secrets", "-n", "team-a"}, false},
		{[]string{"create", "pods/exec", "-n", "team-a"}, false},
		// Hibernation: the scale subresource and one annotation, Leases in
		// its own namespace only, autoscalers read, events written.
		{[]string{"update", "deployments.apps", "--subresource=scale", "-n", "team-a"}, true},
		{[]string{"update", "deployments.apps", "-n", "team-a"}, false},
		{[]string{"watch", "deployments.apps", "--all-namespaces"}, true},
		{[]string{"watch", "horizontalpodautoscalers.autoscaling", "--all-namespaces"}, true},
		{[]string{"update", "horizontalpodautoscalers.autoscaling", "-n", "team-a"}, false},
		{[]string{"create", "events", "-n", "team-a"}, true},
		{[]string{"update", "leases.coordination.k8s.io", "-n", "mcp-system"}, true},
		{[]string{"delete", "leases.coordination.k8s.io", "-n", "mcp-system"}, true},
		{[]string{"update", "leases.coordination.k8s.io", "-n", "team-a"}, false},
		// Virtual servers: ConfigMaps read, never written.
		{[]string{"watch", "configmaps", "--all-namespaces"}, true},
		{[]string{"update", "configmaps", "-n", "team-a"}, false},
	} {
		out, _, _ := kubectl(t, "", append([]string{"auth", "can-i", "--as=" + gw}, tt.args...)...)
		assert.Equal(t, tt.want, strings.TrimSpace(out) == "yes", "gateway can-i %v: %s", tt.args, out)
	}
}
