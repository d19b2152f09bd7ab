package admission_test

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/yaml"

	"github.com/archestra-ai/mcp-orchestrator/internal/admission"
)

var update = flag.Bool("update", false, "rewrite manifests/base/webhook-configurations.yaml from admission.Registration")

const manifest = "../../manifests/base/webhook-configurations.yaml"

// The webhook configurations in the manifests are generated from
// Registration, the one place that defines them: this test fails when they
// drift (regenerate with -update and review the diff).
func TestManifestWebhookConfigurations(t *testing.T) {
	port := int32(443)
	m, v := admission.Registration{
		Service:           &admissionregistrationv1.ServiceReference{Namespace: "mcp-system", Name: "mcp-webhook", Port: &port},
		PlatformNamespace: "mcp-system",
	}.Configurations()
	var buf bytes.Buffer
	buf.WriteString("# Generated from internal/admission/registration.go by\n# go test ./internal/admission -run TestManifestWebhookConfigurations -update\n# caBundle is filled by the webhook (self-signed) or cert-manager's CA injector.\n")
	for i, obj := range []any{m, v} {
		if i > 0 {
			buf.WriteString("---\n")
		}
		out, err := yaml.Marshal(obj)
		require.NoError(t, err)
		buf.Write(out)
	}
	if *update {
		require.NoError(t, os.WriteFile(manifest, buf.Bytes(), 0o644))
	}
	want, err := os.ReadFile(manifest)
	require.NoError(t, err)
	assert.Equal(t, string(want), buf.String())
}
