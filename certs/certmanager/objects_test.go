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

	"github.com/archestra-ai/mcp-orchestrator/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the cert-manager overlay's certificate.yaml")

const manifest = "../../manifests/overlays/cert-manager/certificate.yaml"

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
	assert.Equal(t, SecretName, gotCert.Spec.SecretName)
	assert.Equal(t, IssuerName, gotCert.Spec.IssuerRef.Name)
	assert.Contains(t, gotCert.Spec.DNSNames, "mcp-webhook.mcp-system.svc")
}
