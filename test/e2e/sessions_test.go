//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// Scenario 3: a stdio server with 3 replicas: 30 legacy (2025-11-25)
// sessions spread over the pods and each stays on its pod; when one pod is deleted mid-session its
// sessions fail, the others carry on, and new sessions succeed within 2 s.
const scaledServer = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: scaled
  labels: {mcp.archestra.io/server: scaled}
  annotations:
    mcp.archestra.io/command: /usr/local/bin/stdio-server
spec:
  replicas: 3
  selector: {matchLabels: {app: scaled}}
  template:
    metadata: {labels: {app: scaled}}
    spec:
      containers:
      - name: server
        image: localhost/mcp-e2e/stdio-server:v1
`

func TestSessionsSpreadAndPodLoss(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "e2e-sessions")
	apply(t, ns, scaledServer)
	waitReady(t, ns, "scaled", 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	podOf := func(s *mcp.ClientSession) (string, error) {
		var out struct{ Text string }
		err := structured(ctx, s, "hostname", nil, &out)
		return out.Text, err
	}
	sessions := make([]*mcp.ClientSession, 30)
	pods := make([]string, 30)
	perPod := map[string][]int{}
	for i := range sessions {
		sessions[i] = connectLegacy(t, ns, "scaled")
		pod, err := podOf(sessions[i])
		require.NoError(t, err, "session %d", i)
		pods[i] = pod
		perPod[pod] = append(perPod[pod], i)
	}
	t.Logf("sessions per pod: %v", counts(perPod))
	assert.Len(t, perPod, 3, "30 sessions spread over all 3 pods")
	for i, s := range sessions {
		pod, err := podOf(s)
		require.NoError(t, err, "session %d", i)
		assert.Equal(t, pods[i], pod, "session %d stays on its pod", i)
	}

	// Delete the pod that serves session 0, at once.
	victim := pods[0]
	deleted := time.Now()
	require.NoError(t, client.CoreV1().Pods(ns).Delete(ctx, victim, metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))}))

	// New sessions work within 2 s of the deletion, on the other pods.
	require.Eventually(t, func() bool {
		s, err := tryConnectAt(t, ns, "scaled", api.MCPVersion20251125)
		if err != nil {
			return false
		}
		pod, err := podOf(s)
		return err == nil && pod != victim
	}, 2*time.Second, 100*time.Millisecond, "a new session within 2 s of the pod's deletion")
	t.Logf("new session %s after the deletion", time.Since(deleted).Round(time.Millisecond))

	for i, s := range sessions {
		pod, err := podOf(s)
		if pods[i] == victim {
			require.Eventually(t, func() bool { _, err = podOf(s); return err != nil }, 10*time.Second, 200*time.Millisecond,
				"session %d on the deleted pod must fail", i)
			// The gateway answers 404 for a session whose pod is gone.
			assert.Contains(t, strings.ToLower(err.Error()), "not found", "session %d", i)
			continue
		}
		require.NoError(t, err, "session %d on %s carries on", i, pods[i])
		assert.Equal(t, pods[i], pod)
	}
}

func counts(m map[string][]int) map[string]string {
	c := map[string]string{}
	for k, v := range m {
		c[k] = fmt.Sprint(len(v))
	}
	return c
}
