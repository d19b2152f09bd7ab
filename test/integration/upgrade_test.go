package integration

import (
	"context"
	"encoding/json"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/injector"
)

// Not parallel: it points the webhook configurations at a second webhook
// process with an upgraded config, then back.
func TestConfigUpgradeReinjectsOnUpdate(t *testing.T) {
	requireControlPlane(t)
	ctx := context.Background()
	ns := newNamespace(t)
	_, stderr, err := kubectl(t, deploymentYAML("upgrade", true, "", map[string]string{api.AnnCommand: "npx -y @modelcontextprotocol/server-memory"}), "apply", "-n", ns, "-f", "-")
	require.NoError(t, err, stderr)
	before := getDeployment(t, ns, "upgrade")
	var oldRec injector.Record
	require.NoError(t, json.Unmarshal([]byte(before.Annotations[api.AnnInjected]), &oldRec))

	bin, err := buildWebhook()
	require.NoError(t, err)
	v2, err := startWebhook(ctx, bin, "testdata/webhook-config-v2.yaml")
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, registerWebhook(ctx, hook))
		require.NoError(t, waitWebhookActive(ctx, sidecarImageV1))
		v2.stop()
	})
	require.NoError(t, registerWebhook(ctx, v2))
	require.NoError(t, waitWebhookActive(ctx, sidecarImageV2))

	// Any update re-injects with the new config; here a scale.
	before.Spec.Replicas = ptr.To(int32(2))
	after, err := client.AppsV1().Deployments(ns).Update(ctx, before, metav1.UpdateOptions{})
	require.NoError(t, err)
	assert.Equal(t, sidecarImageV2, findContainer(after.Spec.Template.Spec.InitContainers, api.SidecarName).Image)
	assert.Equal(t, sidecarImageV2, findContainer(after.Spec.Template.Spec.InitContainers, api.InstallName).Image)
	assert.Len(t, after.Spec.Template.Spec.InitContainers, 2)
	var newRec injector.Record
	require.NoError(t, json.Unmarshal([]byte(after.Annotations[api.AnnInjected]), &newRec))
	assert.NotEqual(t, oldRec.Config, newRec.Config, "the marker shows the config changed")
}
