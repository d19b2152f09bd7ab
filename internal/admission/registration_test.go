package admission_test

import (
	"flag"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	"github.com/archestra-ai/mcp-orchestrator/internal/admission"
	"github.com/archestra-ai/mcp-orchestrator/internal/testutil"
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
	testutil.GeneratedManifest(t, manifest, "# Generated from internal/admission/registration.go by\n"+
		"# go test ./internal/admission -run TestManifestWebhookConfigurations -update\n"+
		"# caBundle is filled by the webhook (self-signed) or cert-manager's CA injector.\n", *update, m, v)
}
