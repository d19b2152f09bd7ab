package gatewayaccess

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/certs"
)

func caPEM(t *testing.T, validity time.Duration) []byte {
	t.Helper()
	ca, err := certs.NewCA("test", validity)
	require.NoError(t, err)
	return ca.PEM
}

// cert-manager mode: a renewed CA certificate joins the bundle; the old one
// stays until it expires; duplicates are dropped.
func TestMergeBundles(t *testing.T) {
	t.Parallel()
	now := time.Now()
	a, b := caPEM(t, time.Hour), caPEM(t, time.Hour)
	expired := caPEM(t, time.Minute)
	assert.Equal(t, string(a), string(mergeBundles(a, nil, now)))
	assert.Equal(t, string(b)+string(a), string(mergeBundles(b, a, now)), "the previous CA stays trusted")
	assert.Equal(t, string(b)+string(a), string(mergeBundles(b, append(append([]byte{}, a...), b...), now)), "no duplicates")
	assert.Equal(t, string(b), string(mergeBundles(b, expired, now.Add(2*time.Minute))), "an expired one goes")
	assert.Equal(t, 2, len(certificates(mergeBundles(b, []byte("garbage\n"+string(a)), now))))
}

func TestGatewayOnlyPolicy(t *testing.T) {
	t.Parallel()
	extra := networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"}}}
	np := gatewayOnlyPolicy("team-a", Policy{Managed: true, GatewayNamespace: "mcp-system",
		GatewayPodLabels: map[string]string{"app.kubernetes.io/name": "mcp-gateway"}, From: []networkingv1.NetworkPolicyPeer{extra}})
	assert.Equal(t, api.GatewayOnlyPolicy, np.Name)
	assert.True(t, ours(np))
	assert.Equal(t, api.ServerLabel, np.Spec.PodSelector.MatchExpressions[0].Key, "every MCP server pod of the namespace")
	require.Len(t, np.Spec.Ingress, 1)
	rule := np.Spec.Ingress[0]
	require.Len(t, rule.From, 2)
	assert.Equal(t, map[string]string{"kubernetes.io/metadata.name": "mcp-system"}, rule.From[0].NamespaceSelector.MatchLabels)
	assert.Equal(t, map[string]string{"app.kubernetes.io/name": "mcp-gateway"}, rule.From[0].PodSelector.MatchLabels, "namespace and pod selector in one peer: the gateway's pods only")
	assert.Equal(t, extra, rule.From[1])
	require.Len(t, rule.Ports, 1)
	assert.Equal(t, api.SidecarPortName, rule.Ports[0].Port.StrVal)
	assert.Equal(t, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, np.Spec.PolicyTypes)
}

func TestBundleConfigMapIsPublicData(t *testing.T) {
	t.Parallel()
	cm := bundleConfigMap("team-a", caPEM(t, time.Hour))
	assert.True(t, ours(cm))
	assert.Equal(t, []string{api.GatewayCAKey}, keys(cm.Data))
	assert.NotContains(t, cm.Data[api.GatewayCAKey], "PRIVATE KEY")
	assert.True(t, strings.HasPrefix(cm.Data[api.GatewayCAKey], "-----BEGIN CERTIFICATE-----"))
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
