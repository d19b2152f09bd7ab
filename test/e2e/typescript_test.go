//go:build e2e

package e2e

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// Scenario 7: the contract for other languages. examples/typescript, the
// program a platform would write with @kubernetes/client-node and the
// TypeScript MCP SDK, runs against the cluster as a ServiceAccount that may
// manage Deployments and use MCP servers in its namespace: it creates a
// base-image stdio server, waits, lists and calls a tool through the gateway.
// Refusals come out as the program reports them: the JSON Schema before any
// API call, the webhook for a value the schema cannot express, the gateway's
// 403 for an identity without "use".
const platformRBAC = `
apiVersion: v1
kind: ServiceAccount
metadata: {name: platform}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: outsider}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: platform}
rules:
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, create, update, delete]
- apiGroups: [mcp.archestra.io]
  resources: [servers]
  verbs: [use]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: platform}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: platform}
subjects:
- {kind: ServiceAccount, name: platform}
`

// Exit codes of the program (examples/typescript/src/errors.ts).
const (
	tsExitOK      = 0
	tsExitInvalid = 2
	tsExitDenied  = 3
	tsExitGateway = 4
)

func TestTypeScriptExample(t *testing.T) {
	t.Parallel()
	ex := newTSExample(t)
	ns := namespace(t, "e2e-typescript")
	apply(t, ns, platformRBAC)
	dir := t.TempDir()
	platformTok := saTokenFile(t, dir, ns, "platform")
	platformKC := saKubeconfig(t, dir, platformTok)
	const name = "ts-everything"
	base := []string{"--kubeconfig", platformKC, "--namespace", ns, "--gateway", gatewayURL, "--timeout", "240"}

	t.Run("schema refuses before any API call", func(t *testing.T) {
		// The kubeconfig points at a recorder: any request would show.
		var calls atomic.Int32
		rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			calls.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
		}))
		defer rec.Close()
		out, code := ex.run(t, "--kubeconfig", recorderKubeconfig(t, dir, rec.URL), "--namespace", ns,
			"--gateway", gatewayURL, "--token-file", platformTok, "--name", "ts-schema",
			"--annotation", "mcp.archestra.io/sessions=one", "--annotation", "mcp.archestra.io/comand=npx x")
		assert.Equal(t, tsExitInvalid, code, out)
		assert.Contains(t, out, "mcp.archestra.io/sessions: must be equal to one of the allowed values: per-session, shared")
		assert.Contains(t, out, "mcp.archestra.io/comand: unknown annotation under mcp.archestra.io/ (did you mean mcp.archestra.io/command?)")
		assert.Zero(t, calls.Load(), "the program called the API before validating")
	})
	t.Run("webhook denies what the schema cannot express", func(t *testing.T) {
		// max-sessions' pattern admits 6 digits; the range 1-100000 is the webhook's.
		out, code := ex.run(t, append(base, "--token-file", platformTok, "--name", "ts-denied",
			"--annotation", "mcp.archestra.io/max-sessions=500000")...)
		assert.Equal(t, tsExitDenied, code, out)
		assert.Contains(t, out, "annotations valid against")
		assert.Contains(t, out, "denied the request")
		assert.Contains(t, out, "mcp.archestra.io/max-sessions")
		assert.Contains(t, out, "must be an integer between 1 and 100000")
		_, err := client.AppsV1().Deployments(ns).Get(context.Background(), "ts-denied", metav1.GetOptions{})
		assert.True(t, apierrors.IsNotFound(err), "denied Deployment exists: %v", err)
	})
	ok := t.Run("creates, waits, lists and calls", func(t *testing.T) {
		out, code := ex.run(t, append(base, "--token-file", platformTok, "--name", name)...)
		require.Equal(t, tsExitOK, code, out)
		assert.Contains(t, out, "deployment "+ns+"/"+name+" created")
		assert.Contains(t, out, "available: 1 of 1 replicas")
		assert.Regexp(t, `(?m)^tools: .*\becho\b`, out)
		assert.Contains(t, out, "called echo: Echo: hello from TypeScript")

		d, err := client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		require.NoError(t, err)
		assert.NotEmpty(t, d.Annotations[api.AnnInjected], "the webhook did not inject")
		assert.Equal(t, name, d.Labels[api.ServerLabel])
		pods := waitReady(t, ns, name, 1)
		assert.Equal(t, "ghcr.io/archestra-ai/mcp-orchestrator/mcp-base:v0.1.0", serverImage(pods[0].Spec.Containers, "server"))
	})
	if !ok {
		return // the next steps replace and delete what that one made
	}
	t.Run("replaces; the gateway refuses an identity without use", func(t *testing.T) {
		out, code := ex.run(t, append(base, "--token-file", saTokenFile(t, dir, ns, "outsider"), "--name", name)...)
		assert.Equal(t, tsExitGateway, code, out)
		assert.Contains(t, out, "deployment "+ns+"/"+name+" replaced")
		assert.Contains(t, out, "403 Forbidden")
		assert.Contains(t, out, `"system:serviceaccount:`+ns+`:outsider" may not use servers.mcp.archestra.io `+name)
	})
	t.Run("calls once more and deletes", func(t *testing.T) {
		out, code := ex.run(t, append(base, "--token-file", platformTok, "--name", name, "--delete",
			"--tool", "echo", "--arguments", `{"message":"bye"}`)...)
		require.Equal(t, tsExitOK, code, out)
		assert.Contains(t, out, "called echo: Echo: bye")
		assert.Contains(t, out, "deployment "+ns+"/"+name+" deleted")
		assert.Eventually(t, func() bool {
			_, err := client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		}, time.Minute, 250*time.Millisecond, "the Deployment is still there")
	})
}

// tsExample is the installed program: the pinned node and dist/main.js.
type tsExample struct{ node, main string }

// newTSExample installs the example (npm ci cached by its lockfile, tsc);
// make test-e2e has done it already, so this is a check and a quick build.
func newTSExample(t *testing.T) tsExample {
	t.Helper()
	dir := filepath.Join(repoRoot, "examples/typescript")
	cmd := exec.Command(filepath.Join(dir, "install.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err, "examples/typescript/install.sh")
	return tsExample{node: strings.TrimSpace(string(out)), main: filepath.Join(dir, "dist/main.js")}
}

// run runs the program and returns its combined output and exit code.
func (e tsExample) run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.node, append([]string{e.main}, args...)...)
	// Only what the program is given: no proxy (the token stays on this
	// host), no KUBECONFIG or MCP_* of the caller.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1"}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		require.NoError(t, err, "run the TypeScript example")
	}
	t.Logf("node dist/main.js %s\n%s", strings.Join(args, " "), out)
	return string(out), cmd.ProcessState.ExitCode()
}

// saTokenFile writes a token of the ServiceAccount ns/name to a file in dir.
func saTokenFile(t *testing.T, dir, ns, name string) string {
	t.Helper()
	tr, err := client.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(3600))}},
		metav1.CreateOptions{})
	require.NoError(t, err, "token of %s/%s", ns, name)
	path := filepath.Join(dir, name+".token")
	require.NoError(t, os.WriteFile(path, []byte(tr.Status.Token), 0o600))
	return path
}

// saKubeconfig is the cluster of the admin kubeconfig with a
// ServiceAccount's token as the user: the program gets only its RBAC.
func saKubeconfig(t *testing.T, dir, tokenFile string) string {
	t.Helper()
	admin, err := clientcmd.LoadFromFile(kubeconfig)
	require.NoError(t, err)
	token, err := os.ReadFile(tokenFile)
	require.NoError(t, err)
	cluster := admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster]
	path := filepath.Join(dir, strings.TrimSuffix(filepath.Base(tokenFile), ".token")+".kubeconfig")
	return writeKubeconfig(t, path, cluster, &clientcmdapi.AuthInfo{Token: string(token)})
}

// recorderKubeconfig points at a plain-HTTP server of the test.
func recorderKubeconfig(t *testing.T, dir, url string) string {
	t.Helper()
	return writeKubeconfig(t, filepath.Join(dir, "recorder.kubeconfig"), &clientcmdapi.Cluster{Server: url}, &clientcmdapi.AuthInfo{Token: "unused"})
}

func writeKubeconfig(t *testing.T, path string, cluster *clientcmdapi.Cluster, user *clientcmdapi.AuthInfo) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = cluster
	cfg.AuthInfos["u"] = user
	cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "c"
	require.NoError(t, clientcmd.WriteToFile(*cfg, path))
	return path
}
