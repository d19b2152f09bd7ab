//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/gateway/admin"
)

// Scenario 5: status, logs and restart through the gateway's API, with
// mcpctl as an operator runs it, on real pods: one healthy server and one
// whose image can never be pulled.
const operatedServers = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ops
  labels: {mcp.archestra.io/server: ops}
  annotations:
    mcp.archestra.io/command: /usr/local/bin/stdio-server
spec:
  selector: {matchLabels: {app: ops}}
  template:
    metadata: {labels: {app: ops}}
    spec:
      containers:
      - name: server
        image: localhost/mcp-e2e/stdio-server:v1
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: stuck
  labels: {mcp.archestra.io/server: stuck}
  annotations:
    mcp.archestra.io/command: /usr/local/bin/stdio-server
spec:
  selector: {matchLabels: {app: stuck}}
  template:
    metadata: {labels: {app: stuck}}
    spec:
      containers:
      - name: server
        image: localhost/mcp-e2e/does-not-exist:v1
        imagePullPolicy: Never
`

func TestOperators(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "e2e-operators")
	apply(t, ns, operatedServers)
	before := waitReady(t, ns, "ops", 1)[0]
	mcpctl := filepath.Join(t.TempDir(), "mcpctl")
	out, err := exec.Command("go", "build", "-o", mcpctl, "github.com/archestra-ai/mcp-orchestrator/cmd/mcpctl").CombinedOutput()
	require.NoError(t, err, string(out))
	run := func(args ...string) (string, string, error) {
		cmd := exec.Command(mcpctl, append(args, "-n", ns)...)
		cmd.Env = append(os.Environ(), "MCP_GATEWAY="+gatewayURL, "MCP_GATEWAY_TOKEN="+clientToken, "NO_PROXY=*", "no_proxy=*")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}

	stdout, stderr, err := run("status")
	require.NoError(t, err, stderr)
	assert.Regexp(t, `(?m)^`+ns+`\s+ops\s+ops\s+stdio\s+1/1\s+mtls\s+-$`, stdout)
	assert.Regexp(t, `(?m)^`+ns+`\s+stuck\s+stuck\s+stdio\s+0/1\s+mtls\s+-$`, stdout)

	stdout, stderr, err = run("status", "ops")
	require.NoError(t, err, stderr)
	assert.Regexp(t, `(?m)^`+before.Name+`\s+Running\s+true\s+0\s`, stdout)

	// The kubelet's own reason reaches the operator, with its warning event.
	var st admin.ServerStatus
	require.Eventually(t, func() bool {
		stdout, _, err := run("status", "stuck", "-o", "json")
		return err == nil && json.Unmarshal([]byte(stdout), &st) == nil && len(st.Pods) == 1 && st.Pods[0].Reason == "ErrImageNeverPull"
	}, 90*time.Second, time.Second, "stuck pod's reason: %+v", st)
	hasEvent := func(reason string) bool {
		for _, e := range st.Pods[0].WarningEvents {
			if e.Reason == reason {
				return true
			}
		}
		return false
	}
	// Among the newest warnings (the sidecar's failing readiness probe
	// competes for the first place).
	require.Eventually(t, func() bool {
		stdout, _, err := run("status", "stuck", "-o", "json")
		return err == nil && json.Unmarshal([]byte(stdout), &st) == nil && len(st.Pods) == 1 && hasEvent("ErrImageNeverPull")
	}, 60*time.Second, time.Second, "stuck pod's warning events: %+v", st)

	// Real logs from the kubelet: the sidecar says it serves.
	stdout, stderr, err = run("logs", "ops", "-c", "mcp-transport", "--tail", "50")
	require.NoError(t, err, stderr)
	assert.Contains(t, stdout, `"msg":"mcp-transport serving"`)
	_, stderr, err = run("logs", "ops", "-c", "no-such-container")
	require.Error(t, err)
	assert.Contains(t, stderr, "no-such-container")

	stdout, stderr, err = run("restart", "ops")
	require.NoError(t, err, stderr)
	assert.Contains(t, stdout, "deployment "+ns+"/ops restarted at ")
	require.Eventually(t, func() bool {
		pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=ops"})
		if err != nil || len(pods.Items) != 1 {
			return false
		}
		p := pods.Items[0]
		return p.Name != before.Name && p.Status.Phase == corev1.PodRunning && podReady(p)
	}, 3*time.Minute, time.Second, "a new pod replaces the restarted one")
	s := connect(t, ns, "ops")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = s.ListTools(ctx, nil)
	assert.NoError(t, err, "the restarted server serves")
}
