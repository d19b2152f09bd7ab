package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

func TestNewResources(t *testing.T) {
	t.Parallel()
	r, err := NewResources([]string{"HTTPS://MCP.Example.test:443/", "http://10.0.0.1:8080", "https://mcp.example.test"})
	require.NoError(t, err)
	assert.Equal(t, []string{"https://mcp.example.test", "http://10.0.0.1:8080"}, r.Bases(), "canonical, without duplicates")
	for _, bad := range []string{"mcp.example.test", "ftp://a", "https://a/gw", "https://u@a", "https://a?x=1", "https://a#f", ""} {
		_, err := NewResources([]string{bad})
		assert.Error(t, err, bad)
	}
	_, err = NewResources(nil)
	assert.Error(t, err)
}

func TestCanonicalURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://mcp.example.com":           "https://mcp.example.com",
		"HTTPS://MCP.EXAMPLE.COM/":          "https://mcp.example.com",
		"https://mcp.example.com:443/mcp/":  "https://mcp.example.com/mcp",
		"http://mcp.example.com:80/Mcp/A":   "http://mcp.example.com/Mcp/A",
		"https://mcp.example.com:8443/x":    "https://mcp.example.com:8443/x",
		"https://[::1]:443/x":               "https://[::1]/x",
		"https://mcp.example.com/a%2Fb":     "https://mcp.example.com/a%2Fb",
		"https://mcp.example.com/mcp#frag":  "",
		"mcp-gateway":                       "",
		"urn:example:mcp":                   "",
		"https://user@mcp.example.com/mcp/": "",
	} {
		got, ok := canonicalURL(in)
		assert.Equal(t, want != "", ok, in)
		assert.Equal(t, want, got, in)
	}
}

func TestTargetAndMetadata(t *testing.T) {
	t.Parallel()
	r, err := NewResources([]string{"https://mcp.example.test", "http://127.0.0.1:8080"})
	require.NoError(t, err)
	r.AuthorizationServers = []string{"https://idp.example.test"}
	r.ScopesSupported = []string{"mcp"}
	use := Attributes{Verb: api.VerbUse, Namespace: "team", Name: "github"}
	assert.Equal(t, []string{"https://mcp.example.test/mcp/team/github", "http://127.0.0.1:8080/mcp/team/github"}, r.Target(use).Resources)
	assert.Equal(t, []string{"https://mcp.example.test", "http://127.0.0.1:8080"}, r.Target(Attributes{Verb: api.VerbList}).Resources, "the operators' API: the gateway itself")
	assert.Empty(t, (*Resources)(nil).Target(use).Resources)

	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080/mcp/team/github", nil)
	assert.Equal(t, "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp/team/github", r.MetadataURL(req, use), "by the Host the client used")
	req.Host = "elsewhere"
	assert.Equal(t, "https://mcp.example.test/.well-known/oauth-protected-resource/mcp/team/github", r.MetadataURL(req, use), "else the first public URL")

	mux := http.NewServeMux()
	r.Register(mux)
	for path, want := range map[string]metadata{
		"/.well-known/oauth-protected-resource/mcp/team/github": {Resource: "http://127.0.0.1:8080/mcp/team/github", ResourceName: "MCP server team/github"},
		"/.well-known/oauth-protected-resource":                 {Resource: "http://127.0.0.1:8080", ResourceName: "MCP gateway"},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080"+path, nil))
		require.Equal(t, http.StatusOK, rec.Code, path)
		assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
		assert.Equal(t, "*", rec.Header().Get("Access-Control-Allow-Origin"))
		var got metadata
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
		want.AuthorizationServers, want.ScopesSupported, want.BearerMethodsSupported = []string{"https://idp.example.test"}, []string{"mcp"}, []string{"header"}
		assert.Equal(t, want, got, path)
	}
}

func TestAudienceOK(t *testing.T) {
	t.Parallel()
	tg := Target{Resources: []string{"https://gw.test/mcp/a/b"}}
	audienceOK := func(aud []string, tg Target, gatewayWide []string) bool {
		return (&verified{v: &jwtVerifier{audiences: gatewayWide}, aud: canonicalAudiences(aud)}).audienceOK(tg)
	}
	assert.True(t, audienceOK([]string{"x", "https://GW.test/mcp/a/b/"}, tg, nil))
	assert.True(t, audienceOK([]string{"mcp-gateway"}, tg, []string{"mcp-gateway"}))
	assert.False(t, audienceOK([]string{"https://gw.test/mcp/a/c"}, tg, []string{"mcp-gateway"}))
	assert.False(t, audienceOK([]string{"https://gw.test/mcp/a"}, tg, nil), "a prefix is not the resource")
	assert.False(t, audienceOK(nil, tg, []string{"mcp-gateway"}))
	assert.False(t, audienceOK([]string{"MCP-GATEWAY"}, tg, []string{"mcp-gateway"}), "non-URL audiences compare exactly")
}
