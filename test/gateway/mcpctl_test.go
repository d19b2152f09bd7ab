package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/admin"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
	"github.com/archestra-ai/mcp-orchestrator/internal/testutil/oidc"
)

// goBuild builds a command of this module into a temporary directory.
func goBuild(t testing.TB, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	out, err := exec.Command("go", "build", "-o", bin, "github.com/archestra-ai/mcp-orchestrator/cmd/"+name).CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// mcpctl status, logs and restart: the real binary against a gateway with
// Kubernetes auth, with real ServiceAccount tokens.
func TestMcpctl(t *testing.T) {
	t.Parallel()
	mcpctl := goBuild(t, "mcpctl")
	ns := namespace(t)
	ctx := context.Background()
	url, _ := startGateway(t, auth.NewKubernetes(client, nil, time.Second))
	createDeployment(t, ns, "notes", 2)
	createPod(t, mcptest.NewBackend(t, "notes-ok"), ns, "notes", "notes-ok", nil)
	createStuckPod(t, ns, "notes", "notes-stuck", corev1.PodPending, 0, "ImagePullBackOff", `Back-off pulling image "example/mcp:1"`)

	operator := serviceAccountToken(t, ns, "operator")
	viewer := serviceAccountToken(t, ns, "viewer")
	grant(t, ns, "operator",
		rbacv1.PolicyRule{APIGroups: []string{api.RBACGroup}, Resources: []string{"servers"}, Verbs: []string{"get", "list"}},
		rbacv1.PolicyRule{APIGroups: []string{api.RBACGroup}, Resources: []string{"servers/logs"}, Verbs: []string{"get"}},
		rbacv1.PolicyRule{APIGroups: []string{api.RBACGroup}, Resources: []string{"servers/restart"}, Verbs: []string{"update"}})
	grant(t, ns, "viewer", rbacv1.PolicyRule{APIGroups: []string{api.RBACGroup}, Resources: []string{"servers"}, Verbs: []string{"get"}})
	viewerFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(viewerFile, []byte(viewer+"\n"), 0o600))

	run := func(env []string, args ...string) (int, string, string) {
		cmd := exec.Command(mcpctl, append(args, "-n", ns)...)
		cmd.Env = append(os.Environ(), append([]string{"MCP_GATEWAY=" + url}, env...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		return code, stdout.String(), stderr.String()
	}
	asOperator := []string{"MCP_GATEWAY_TOKEN=" + operator}

	code, out, errOut := run(asOperator, "status")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^NAMESPACE\s+SERVER\s+DEPLOYMENT\s+TRANSPORT\s+READY\s+CALLER-AUTH\s+HIBERNATION$`, out)
	assert.Regexp(t, `(?m)^`+ns+`\s+notes\s+notes\s+stdio\s+1/2\s+none\s+-$`, out)

	code, out, errOut = run(asOperator, "status", "notes")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Server:      "+ns+"/notes\n")
	assert.Regexp(t, `(?m)^notes-ok\s+Running\s+true\s+0\s+\S+\s+none\s*$`, out)
	assert.Regexp(t, `(?m)^notes-stuck\s+Pending\s+false\s+0\s+\S+\s+none\s+ImagePullBackOff$`, out)
	assert.Contains(t, out, `notes-stuck: ImagePullBackOff: server: Back-off pulling image "example/mcp:1"`)

	code, out, errOut = run(asOperator, "status", "notes", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var st admin.ServerStatus
	require.NoError(t, json.Unmarshal([]byte(out), &st), out)
	assert.Len(t, st.Pods, 2)

	// The viewer may get but neither list nor restart; the token file works.
	code, _, errOut = run(nil, "status", "--token-file", viewerFile)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "mcpctl status: 403 Forbidden: ")
	code, _, errOut = run(nil, "restart", "notes", "--token-file", viewerFile)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "may not update servers/restart.mcp.archestra.io notes")
	assert.NotContains(t, errOut, viewer, "the token is never printed")
	code, _, errOut = run(nil, "status", "notes")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "401 Unauthorized")

	code, out, errOut = run(asOperator, "restart", "notes")
	require.Equal(t, 0, code, errOut)
	d, err := client.AppsV1().Deployments(ns).Get(ctx, "notes", metav1.GetOptions{})
	require.NoError(t, err)
	at := d.Spec.Template.Annotations[admin.RestartedAtAnnotation]
	require.NotEmpty(t, at)
	assert.Equal(t, "deployment "+ns+"/notes restarted at "+at+"\n", out)

	code, _, errOut = run(asOperator, "status", "missing")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "404 Not Found: no Deployment labelled mcp.archestra.io/server=missing")

	// envtest has no kubelet, so there is no log to read (the end-to-end
	// suite reads real ones); the path, the authorization and the pod
	// choice are what is checked here.
	code, _, errOut = run(asOperator, "logs", "notes", "--tail", "10")
	assert.Equal(t, 0, code, errOut)
	code, _, errOut = run(asOperator, "logs", "notes", "--pod", "notes-gone")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `mcpctl logs: 404 Not Found: server `+ns+`/notes has no pod "notes-gone"`)
	code, _, errOut = run(nil, "logs", "notes", "--token-file", viewerFile)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "may not get servers/logs.mcp.archestra.io notes")
	code, _, errOut = run(asOperator, "wake", "notes")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "may not update servers/wake.mcp.archestra.io notes", "its own grant")
}

// mcpctl hibernate, status and wake against a gateway with hibernation.
func TestMcpctlHibernation(t *testing.T) {
	t.Parallel()
	mcpctl := goBuild(t, "mcpctl")
	ns, leases := namespace(t), namespace(t)
	createServer(t, ns, "notes", "30m", 2, nil)
	c := runController(t, ns, "notes", mcptest.NewBackend(t, "pod"))
	gw := startReplica(t, ns, leases, "gw-a")
	run := func(args ...string) (int, string, string) {
		cmd := exec.Command(mcpctl, append(args, "-n", ns)...)
		cmd.Env = append(os.Environ(), "MCP_GATEWAY="+gw.url, "MCP_GATEWAY_TOKEN=")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return code, stdout.String(), stderr.String()
	}
	code, out, errOut := run("status")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^`+ns+`\s+notes\s+notes\s+stdio\s+2/2\s+after 30m$`, out)

	code, out, errOut = run("hibernate", "notes")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `^deployment `+ns+`/notes: Hibernated since \S+Z \(\d+s ago\): hibernated by system:anonymous; a wake restores 2; hibernate-after 30m\n$`, out)
	code, out, errOut = run("status")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^`+ns+`\s+notes\s+notes\s+stdio\s+\d/0\s+Hibernated \d+s$`, out)
	code, out, errOut = run("status", "notes")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^Hibernation: Hibernated since `, out)

	podsGone(t, gw, ns, "notes")
	code, out, errOut = run("wake", "notes")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `^deployment `+ns+`/notes: Waking since \S+Z \(\d+s ago\): woken by system:anonymous; a wake restores 2`, out)
	waitState(t, ns, "notes", "", 2, 5*time.Second)
	assert.Equal(t, 1, c.scaleUps())
}

// mcpctl with an identity provider's access token in a file, as with any
// token: the operators' API takes tokens for the gateway's own URL, and a
// RoleBinding for the IdP group grants it.
func TestMcpctlWithOIDCToken(t *testing.T) {
	t.Parallel()
	mcpctl := goBuild(t, "mcpctl")
	p := oidc.Start(t)
	og := startOAuthGateway(t, p, "oidc", "kubernetes")
	ns := namespace(t)
	createDeployment(t, ns, "notes", 1)
	createPod(t, mcptest.NewBackend(t, "notes"), ns, "notes", "notes-1", nil)
	grantGroup(t, ns, "engineering-views-servers", group("oidc:engineering"), []string{api.VerbGet, api.VerbList})
	ctx := context.Background()
	public, err := p.RegisterClient(ctx, oidc.ClientSpec{Public: true, Scopes: []string{"mcp"}})
	require.NoError(t, err)
	tokenFile := func(resource string) string {
		tok, err := p.AuthCodeToken(ctx, public, oidc.TokenRequest{Scopes: []string{"mcp"}, Resource: resource})
		require.NoError(t, err)
		og.tokens.add(tok.AccessToken)
		f := filepath.Join(t.TempDir(), "token")
		require.NoError(t, os.WriteFile(f, []byte(tok.AccessToken+"\n"), 0o600))
		return f
	}
	run := func(file string, args ...string) (int, string, string) {
		cmd := exec.Command(mcpctl, append(args, "-n", ns)...)
		cmd.Env = append(os.Environ(), "MCP_GATEWAY="+og.URL, "MCP_GATEWAY_TOKEN_FILE="+file)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), stdout.String(), stderr.String()
		}
		require.NoError(t, err)
		return 0, stdout.String(), stderr.String()
	}
	code, out, errOut := run(tokenFile(og.URL), "status")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^`+ns+`\s+notes\s+notes\s+stdio\s+1/1$`, out)

	code, _, errOut = run(tokenFile(og.server(ns, "notes")), "status")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "401 Unauthorized: a valid bearer token is required: the token's audience is not this resource (want "+og.URL+" or mcp-gateway-wide)")
	code, _, errOut = run(tokenFile(og.URL), "restart", "notes")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `403 Forbidden: user "oidc:alice" may not update servers/restart.mcp.archestra.io notes in namespace `+ns+` (groups ["oidc:engineering"])`)
}
