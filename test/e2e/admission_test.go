//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Scenario 4: a bad annotation is denied by `kubectl apply` with its
// message; a secret env var reaches the process; the platform's pull secret,
// tolerations and nodeSelector (test/e2e/testdata/overlay) appear in the
// running pod spec.
func TestBadAnnotationDenied(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "e2e-denied")
	manifest, err := os.ReadFile(filepath.Join(repoRoot, "manifests/examples/bad-annotations.yaml"))
	require.NoError(t, err)
	out, err := kubectlStdin(string(manifest), "-n", ns, "apply", "-f", "-")
	require.Error(t, err, "bad annotations were admitted:\n%s", out)
	assert.Contains(t, out, "denied")
	for _, key := range []string{"mcp.archestra.io/transport", "mcp.archestra.io/max-sessions", "mcp.archestra.io/secret-env"} {
		assert.Contains(t, out, key, "the denial names every bad annotation")
	}
}

const secretServer = `
apiVersion: v1
kind: Secret
metadata: {name: e2e-secret}
stringData: {value: s3cr3t-e2e}
---
apiVersion: v1
kind: Secret
metadata: {name: e2e-pull}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{"auths":{"registry.invalid":{"auth":"ZTJlOmUyZQ=="}}}'
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: secrets
  labels: {mcp.archestra.io/server: secrets}
  annotations:
    mcp.archestra.io/command: /usr/local/bin/stdio-server
    mcp.archestra.io/secret-env: E2E_SECRET=e2e-secret:value
spec:
  selector: {matchLabels: {app: secrets}}
  template:
    metadata: {labels: {app: secrets}}
    spec:
      containers:
      - name: server
        image: localhost/mcp-e2e/stdio-server:v1
`

func TestSecretEnvAndPlatformDefaults(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "e2e-secrets")
	apply(t, ns, secretServer)
	pods := waitReady(t, ns, "secrets", 1)

	// The running pod, as the API server stored it.
	pod, err := client.CoreV1().Pods(ns).Get(context.Background(), pods[0].Name, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Contains(t, pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: "e2e-pull"})
	assert.Equal(t, "linux", pod.Spec.NodeSelector["kubernetes.io/os"])
	var tolerated bool
	for _, tol := range pod.Spec.Tolerations {
		tolerated = tolerated || tol.Key == "e2e.mcp.archestra.io/dedicated"
	}
	assert.True(t, tolerated, "the webhook pod's toleration is inherited: %v", pod.Spec.Tolerations)

	s := connect(t, ns, "secrets")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out struct{ Text string }
	require.NoError(t, structured(ctx, s, "env", map[string]any{"name": "E2E_SECRET"}, &out))
	assert.Equal(t, "s3cr3t-e2e", out.Text)
}
