package certmanager

import (
	"bytes"
	"flag"
	"os"
	"testing"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/certs"
	"github.com/archestra-ai/mcp-orchestrator/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the cert-manager overlay's certificate.yaml")

const (
	manifest        = "../../manifests/overlays/cert-manager/certificate.yaml"
	gatewayManifest = "../../manifests/overlays/cert-manager/gateway-client.yaml"
)

// The overlay's cert-manager objects are generated from Objects and decode
// strictly into the cert-manager API types.
func TestOverlayObjects(t *testing.T) {
	issuer, cert := Objects("mcp-system", "mcp-webhook")
	testutil.GeneratedManifest(t, manifest, "# Generated from certs/certmanager/objects.go by\n# go test ./certs/certmanager -update\n", *update, issuer, cert)
	want, err := os.ReadFile(manifest)
	require.NoError(t, err)

	docs := bytes.Split(want, []byte("\n---\n"))
	require.Len(t, docs, 2)
	var gotIssuer cmapi.Issuer
	require.NoError(t, yaml.UnmarshalStrict(docs[0], &gotIssuer))
	var gotCert cmapi.Certificate
	require.NoError(t, yaml.UnmarshalStrict(docs[1], &gotCert))
	assert.NotNil(t, gotIssuer.Spec.SelfSigned)
	assert.Equal(t, api.WebhookTLSSecret, gotCert.Spec.SecretName)
	assert.Equal(t, IssuerName, gotCert.Spec.IssuerRef.Name)
	assert.Contains(t, gotCert.Spec.DNSNames, "mcp-webhook.mcp-system.svc")
}

// The gateway's client certificate objects: generated likewise, and they
// name the Secrets the rest of the product uses in both modes.
func TestGatewayObjects(t *testing.T) {
	objs := GatewayObjects("mcp-system")
	testutil.GeneratedManifest(t, gatewayManifest, "# Generated from certs/certmanager/objects.go by\n# go test ./certs/certmanager -update\n", *update, objs...)
	want, err := os.ReadFile(gatewayManifest)
	require.NoError(t, err)
	docs := bytes.Split(want, []byte("\n---\n"))
	require.Len(t, docs, 4)
	var bootstrap, caIssuer cmapi.Issuer
	var ca, client cmapi.Certificate
	for i, into := range []any{&bootstrap, &ca, &caIssuer, &client} {
		require.NoError(t, yaml.UnmarshalStrict(docs[i], into))
	}
	assert.NotNil(t, bootstrap.Spec.SelfSigned)
	assert.True(t, ca.Spec.IsCA)
	assert.Equal(t, api.GatewayCASecret, ca.Spec.SecretName)
	assert.Equal(t, cmapi.RotationPolicyNever, ca.Spec.PrivateKey.RotationPolicy, "a renewed CA verifies the old client certificates")
	assert.Equal(t, api.GatewayCASecret, caIssuer.Spec.CA.SecretName)
	assert.Equal(t, api.GatewayClientSecret, client.Spec.SecretName)
	assert.Equal(t, certs.GatewayClientName, client.Spec.CommonName)
	assert.Equal(t, []cmapi.KeyUsage{cmapi.UsageClientAuth, cmapi.UsageDigitalSignature}, client.Spec.Usages)
	assert.Equal(t, GatewayCAIssuer, client.Spec.IssuerRef.Name)
}
