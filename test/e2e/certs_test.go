//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Scenario 6: the webhook's serving certificate (45 s here, see the
// overlay) is renewed while a client keeps sending MCP Deployments through
// the API server; not one admission fails.
func TestServingCertificateRotates(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "e2e-rotation")
	ctx := context.Background()
	secret := func() []byte {
		s, err := client.CoreV1().Secrets("mcp-system").Get(ctx, "mcp-webhook-tls", metav1.GetOptions{})
		require.NoError(t, err)
		return s.Data[corev1.TLSCertKey]
	}
	first := secret()
	require.NotEmpty(t, first)
	replicas := int32(1)
	labels := map[string]string{"app": "rotating"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "rotating", Labels: map[string]string{"mcp.archestra.io/server": "rotating"},
			Annotations: map[string]string{"mcp.archestra.io/command": "/usr/local/bin/stdio-server"}},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "server", Image: "localhost/mcp-e2e/stdio-server:v1"}}}}},
	}

	var admitted, failed int
	renewedAt := time.Time{}
	deadline := time.Now().Add(2 * time.Minute)
	// Until a renewal, and 10 s beyond it: the webhook pods load the new
	// certificate and the API server opens new connections.
	for time.Now().Before(deadline) && (renewedAt.IsZero() || time.Since(renewedAt) < 10*time.Second) {
		got, err := client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		switch {
		case err != nil:
			failed++
			t.Logf("admission failed: %v", err)
		case len(got.Spec.Template.Spec.InitContainers) == 0:
			failed++
			t.Logf("admitted without injection")
		default:
			admitted++
		}
		if renewedAt.IsZero() && !bytes.Equal(secret(), first) {
			renewedAt = time.Now()
		}
		time.Sleep(100 * time.Millisecond) // a steady client, not a flood
	}
	t.Logf("%d admissions, %d failed; serving certificate renewed: %t", admitted, failed, !renewedAt.IsZero())
	require.False(t, renewedAt.IsZero(), "no renewal within 2 minutes")
	assert.Zero(t, failed, "no admission may fail across the renewal")
	assert.Greater(t, admitted, 50, fmt.Sprintf("admitted %d", admitted))
}
