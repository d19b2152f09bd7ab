package oidc

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With a public address the issuer is https, its certificate from the
// provider's own CA; the flows trust it, a default client does not.
func TestPublicAddressTLS(t *testing.T) {
	t.Parallel()
	p := Start(t, WithPublicAddress("127.0.0.1"))
	require.True(t, strings.HasPrefix(p.Issuer(), "https://127.0.0.1:"), p.Issuer())
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(p.CACertPEM()))

	resp, err := p.HTTPClient().Get(p.Issuer() + "/.well-known/openid-configuration")
	require.NoError(t, err)
	defer resp.Body.Close()
	var doc struct{ Issuer string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	assert.Equal(t, p.Issuer(), doc.Issuer)
	_, err = http.Get(p.Issuer() + "/.well-known/openid-configuration")
	assert.ErrorContains(t, err, "certificate", "not trusted without the provider's CA")

	ctx := context.Background()
	c, err := p.RegisterClient(ctx, ClientSpec{Public: true})
	require.NoError(t, err)
	tok, err := p.AuthCodeToken(ctx, c, TokenRequest{Resource: "https://mcp.example.test/mcp/ns/s"})
	require.NoError(t, err)
	assert.NotEmpty(t, tok.AccessToken)
}
