package auth

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const goodConfig = `
apiVersion: apiserver.config.k8s.io/v1
kind: AuthenticationConfiguration
jwt:
- issuer:
    url: https://idp.example.test
    audiences: [mcp-gateway]
    audienceMatchPolicy: MatchAny
  claimValidationRules:
  - claim: hd
    requiredValue: example.test
  claimMappings:
    username: {claim: email, prefix: "oidc:"}
    groups: {claim: groups, prefix: "oidc:"}
    uid: {claim: sub}
- issuer:
    url: http://127.0.0.1:5556/dex
  claimMappings:
    username: {claim: sub, prefix: ""}
`

func TestParseOIDCConfig(t *testing.T) {
	t.Parallel()
	issuers, err := ParseOIDCConfig([]byte(goodConfig))
	require.NoError(t, err)
	require.Len(t, issuers, 2)
	assert.Equal(t, IssuerConfig{
		URL: "https://idp.example.test", Audiences: []string{"mcp-gateway"},
		Username: PrefixedClaim{"email", "oidc:"}, Groups: PrefixedClaim{"groups", "oidc:"}, UIDClaim: "sub",
		Rules: []ClaimRule{{"hd", "example.test"}},
	}, issuers[0])
	assert.Equal(t, PrefixedClaim{"sub", ""}, issuers[1].Username)

	head := "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\n"
	tests := []struct{ name, file, want string }{
		{"v1beta1 is fine", strings.Replace(goodConfig, "/v1\n", "/v1beta1\n", 1), ""},
		{"wrong kind", "apiVersion: apiserver.config.k8s.io/v1\nkind: Foo\njwt: []", `kind: Unsupported value: "Foo"`},
		{"wrong version", "apiVersion: v1\nkind: AuthenticationConfiguration\n", `apiVersion: Unsupported value: "v1"`},
		{"unknown field", head + "jwt:\n- issuer: {url: https://a, audence: [x]}\n", `unknown field "audence"`},
		{"no issuers", head, "jwt: Required value"},
		{"http issuer", head + "jwt:\n- issuer: {url: http://idp.example.test}\n  claimMappings: {username: {claim: sub, prefix: ''}}\n", "must use https"},
		{"no username claim", head + "jwt:\n- issuer: {url: https://a}\n", "claimMappings.username.claim: Required value"},
		{"no prefix", head + "jwt:\n- issuer: {url: https://a}\n  claimMappings: {username: {claim: sub}}\n", "claimMappings.username.prefix: Required value"},
		{"CEL username", head + "jwt:\n- issuer: {url: https://a}\n  claimMappings: {username: {expression: claims.sub}}\n", "CEL expressions are not supported"},
		{"CEL rule", head + "jwt:\n- issuer: {url: https://a}\n  claimValidationRules: [{expression: 'true'}]\n  claimMappings: {username: {claim: sub, prefix: ''}}\n", "claimValidationRules[0].expression: Forbidden"},
		{"user rules", head + "jwt:\n- issuer: {url: https://a}\n  userValidationRules: [{expression: 'true'}]\n  claimMappings: {username: {claim: sub, prefix: ''}}\n", "userValidationRules: Forbidden"},
		{"extra", head + "jwt:\n- issuer: {url: https://a}\n  claimMappings: {username: {claim: sub, prefix: ''}, extra: [{key: a/b, valueExpression: x}]}\n", "claimMappings.extra: Forbidden"},
		{"anonymous", head + "anonymous: {enabled: true}\njwt:\n- issuer: {url: https://a}\n  claimMappings: {username: {claim: sub, prefix: ''}}\n", "anonymous: Forbidden"},
		{"duplicate issuer", head + "jwt:\n- issuer: {url: https://a}\n  claimMappings: {username: {claim: sub, prefix: ''}}\n- issuer: {url: https://a}\n  claimMappings: {username: {claim: sub, prefix: ''}}\n", "jwt[1].issuer.url: Duplicate value"},
		{"bad CA", head + "jwt:\n- issuer: {url: https://a, certificateAuthority: nope}\n  claimMappings: {username: {claim: sub, prefix: ''}}\n", "certificateAuthority: Invalid value"},
		{"egress", head + "jwt:\n- issuer: {url: https://a, egressSelectorType: cluster}\n  claimMappings: {username: {claim: sub, prefix: ''}}\n", "egressSelectorType: Forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseOIDCConfig([]byte(tt.file))
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

// Every problem of a file is reported at once.
func TestParseOIDCConfigAllErrors(t *testing.T) {
	t.Parallel()
	_, err := ParseOIDCConfig([]byte("apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\njwt:\n- issuer: {url: http://a}\n- issuer: {url: https://b}\n  claimMappings: {username: {expression: x}}\n"))
	require.Error(t, err)
	for _, want := range []string{"jwt[0].issuer.url", "jwt[0].claimMappings.username.claim", "jwt[1].claimMappings.username.expression"} {
		assert.Contains(t, err.Error(), want)
	}
}

// Claim validation rules, the uid claim and a discovery URL elsewhere.
func TestOIDCMappingRules(t *testing.T) {
	t.Parallel()
	ti := newTestIssuer(t)
	cfg := ti.config()
	cfg.Rules = []ClaimRule{{Claim: "tenant", Value: "acme"}}
	cfg.UIDClaim = "sub"
	cfg.DiscoveryURL = ti.URL() + "/.well-known/openid-configuration"
	o := NewOIDC([]IssuerConfig{cfg}, 0, discardLog())
	claims := ti.claimsFor(resource)
	_, err := o.AuthenticateToken(context.Background(), sign(t, ti.key(0), claims), target)
	assert.ErrorContains(t, err, `the claim "tenant" does not have the required value`)
	claims["tenant"] = "acme"
	u, err := o.AuthenticateToken(context.Background(), sign(t, ti.key(0), claims), target)
	require.NoError(t, err)
	assert.Equal(t, "user-1", u.UID)
	claims["tenant"] = "other"
	_, err = o.AuthenticateToken(context.Background(), sign(t, ti.key(0), claims), target)
	assert.ErrorContains(t, err, "required value")

	// A discovery document naming another issuer is refused.
	bad := ti.config()
	bad.URL = ti.URL() + "/other"
	bad.DiscoveryURL = ti.URL() + "/.well-known/openid-configuration"
	o = NewOIDC([]IssuerConfig{bad}, 0, discardLog())
	err = o.Discover(context.Background())
	assert.ErrorContains(t, err, "names issuer")
}

// ServiceAccount claims map as the API server maps them; anything else is
// not this cluster's ServiceAccount token.
func TestMapServiceAccount(t *testing.T) {
	t.Parallel()
	k8s := map[string]any{
		"namespace":      "team-a",
		"serviceaccount": map[string]any{"name": "agent", "uid": "sa-uid"},
		"pod":            map[string]any{"name": "agent-1", "uid": "pod-uid"},
		"node":           map[string]any{"name": "node-1", "uid": "node-uid"},
	}
	u, err := mapServiceAccount(&claims{sub: "system:serviceaccount:team-a:agent", raw: map[string]any{"kubernetes.io": k8s, "jti": "j1"}})
	require.NoError(t, err)
	assert.Equal(t, &User{
		Name: "system:serviceaccount:team-a:agent", UID: "sa-uid", Via: "serviceaccount",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"},
		Extra: map[string][]string{
			"authentication.kubernetes.io/pod-name": {"agent-1"}, "authentication.kubernetes.io/pod-uid": {"pod-uid"},
			"authentication.kubernetes.io/node-name": {"node-1"}, "authentication.kubernetes.io/node-uid": {"node-uid"},
			"authentication.kubernetes.io/credential-id": {"JTI=j1"},
		},
	}, u)
	for _, c := range []*claims{
		{sub: "system:serviceaccount:team-b:agent", raw: map[string]any{"kubernetes.io": k8s}},
		{sub: "alice", raw: map[string]any{}},
		{sub: "system:serviceaccount:team-a:agent", raw: map[string]any{"kubernetes.io": "x"}},
	} {
		_, err := mapServiceAccount(c)
		assert.ErrorContains(t, err, "not a ServiceAccount token of this cluster")
	}
}
