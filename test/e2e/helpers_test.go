//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// The MCP client's identity: a ServiceAccount allowed every verb on the
// virtual resource servers.mcp.archestra.io that the gateway authorizes.
const clientRBAC = `
apiVersion: v1
kind: ServiceAccount
metadata: {name: e2e-client, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: e2e-mcp-client}
rules:
- apiGroups: [mcp.archestra.io]
  resources: [servers, servers/logs, servers/restart, servers/wake, servers/hibernate]
  verbs: [use, get, list, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: e2e-mcp-client}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: e2e-mcp-client}
subjects:
- {kind: ServiceAccount, name: e2e-client, namespace: default}
`

var (
	gatewayURL  string // http://<ClusterIP of the mcp-gateway Service>
	clientToken string
)

func setupClientAccess() error {
	if out, err := kubectlStdin(clientRBAC, "apply", "-f", "-"); err != nil {
		return fmt.Errorf("client RBAC: %w\n%s", err, out)
	}
	ctx := context.Background()
	tr, err := client.CoreV1().ServiceAccounts("default").CreateToken(ctx, "e2e-client",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(3600))}},
		metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("client token: %w", err)
	}
	clientToken = tr.Status.Token
	svc, err := client.CoreV1().Services("mcp-system").Get(ctx, "mcp-gateway", metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("gateway service: %w", err)
	}
	// The Service's ClusterIP, through kube-proxy's rules on this host.
	gatewayURL = "http://" + svc.Spec.ClusterIP
	return nil
}

// bearer adds the client token to every request.
type bearer struct{ base http.RoundTripper }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+clientToken)
	return b.base.RoundTrip(r)
}

// httpClient never uses a proxy from the environment: the bearer token and
// the traffic stay on this host.
var httpClient = &http.Client{Transport: bearer{noProxy()}, Timeout: 60 * time.Second}

func noProxy() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	return t
}

// connect opens an MCP session to ns/server through the gateway.
func connect(t *testing.T, ns, server string) *mcp.ClientSession {
	t.Helper()
	s, err := tryConnect(t, ns, server)
	require.NoError(t, err, "connect to %s/%s through the gateway", ns, server)
	return s
}

// tryConnect is connect that returns the error; the session closes with t.
func tryConnect(t *testing.T, ns, server string) (*mcp.ClientSession, error) {
	return tryConnectAt(t, ns, server, "")
}

// connectLegacy opens a 2025-11-25 session (initialize, Mcp-Session-Id),
// which the gateway keeps on one pod, instead of the SDK's default
// stateless 2026-07-28.
func connectLegacy(t *testing.T, ns, server string) *mcp.ClientSession {
	t.Helper()
	s, err := tryConnectAt(t, ns, server, api.MCPVersion20251125)
	require.NoError(t, err, "connect to %s/%s through the gateway", ns, server)
	require.NotEmpty(t, s.ID(), "a legacy session")
	return s
}

// tryConnectAt connects asking for the protocol revision version (empty:
// the SDK's latest).
func tryConnectAt(t *testing.T, ns, server, version string) (*mcp.ClientSession, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "v1"}, nil)
	s, err := c.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint: fmt.Sprintf("%s/mcp/%s/%s", gatewayURL, ns, server), HTTPClient: httpClient,
		DisableStandaloneSSE: true, MaxRetries: -1,
	}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, nil
}

// callText calls a tool and returns its text content, joined.
func callText(ctx context.Context, s *mcp.ClientSession, tool string, args map[string]any) (string, error) {
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	if res.IsError {
		return "", fmt.Errorf("tool %s: %s", tool, b.String())
	}
	return b.String(), nil
}

// structured calls a tool of the test servers and decodes its structured output.
func structured(ctx context.Context, s *mcp.ClientSession, tool string, args map[string]any, into any) error {
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		return err
	}
	if res.IsError {
		return fmt.Errorf("tool %s failed: %v", tool, res.Content)
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, into)
}

// namespace makes a test namespace, deleted after the test.
func namespace(t *testing.T, name string) string {
	t.Helper()
	_, err := client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = client.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// apply applies a manifest in ns and fails the test on error.
func apply(t *testing.T, ns, manifest string) {
	t.Helper()
	out, err := kubectlStdin(manifest, "-n", ns, "apply", "-f", "-")
	require.NoError(t, err, out)
}

// waitReady waits until the Deployment's pods all run, Ready, with the
// sidecar, and returns them.
func waitReady(t *testing.T, ns, deploy string, replicas int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	var last string
	ok := assert.Eventually(t, func() bool {
		list, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + deploy})
		if err != nil {
			last = err.Error()
			return false
		}
		pods = pods[:0]
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && podReady(p) {
				pods = append(pods, p)
			}
		}
		last = fmt.Sprintf("%d of %d pods ready", len(pods), len(list.Items))
		return len(pods) == replicas && len(list.Items) == replicas
	}, 3*time.Minute, 250*time.Millisecond)
	if !ok {
		out, _ := kubectl("-n", ns, "describe", "pods", "-l", "app="+deploy)
		logs, _ := kubectl("-n", ns, "logs", "-l", "app="+deploy, "--all-containers", "--tail=30")
		require.Failf(t, "pods not ready", "%s/%s: %s\n%s\n%s", ns, deploy, last, out, logs)
	}
	for _, p := range pods {
		require.True(t, hasSidecar(p), "pod %s has no mcp-transport sidecar", p.Name)
	}
	return pods
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// hasSidecar: the injected mcp-transport runs as a native sidecar (an init
// container that restarts always) and is started.
func hasSidecar(p corev1.Pod) bool {
	for _, c := range p.Spec.InitContainers {
		if c.Name == "mcp-transport" {
			for _, s := range p.Status.InitContainerStatuses {
				if s.Name == c.Name {
					return s.Started != nil && *s.Started
				}
			}
		}
	}
	for _, c := range p.Spec.Containers {
		if c.Name == "mcp-transport" {
			return true
		}
	}
	return false
}

// serverImage is the image of the named container.
func serverImage(cs []corev1.Container, name string) string {
	for _, c := range cs {
		if c.Name == name {
			return c.Image
		}
	}
	return ""
}
