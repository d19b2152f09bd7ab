package origin

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

func TestPolicy(t *testing.T) {
	t.Parallel()
	p := New(Config{
		PublicURLs: []*url.URL{mustURL(t, "https://mcp.example.com"), mustURL(t, "http://gw.internal.example:8443/base")},
		Hosts:      []string{"mcp-gateway", "mcp-gateway.mcp-system.svc.cluster.local."},
	})
	tests := []struct {
		name, host, origin string
		ok                 bool
	}{
		{"loopback", "127.0.0.1:8081", "", true},
		{"localhost", "localhost:8081", "", true},
		{"ipv6 loopback", "[::1]:8081", "", true},
		{"pod or ClusterIP address", "10.96.0.12", "", true},
		{"public URL host, any port", "MCP.example.com:443", "", true},
		{"second public URL", "gw.internal.example:8443", "", true},
		{"service name", "mcp-gateway", "", true},
		{"service FQDN with a dot", "mcp-gateway.mcp-system.svc.cluster.local.", "", true},
		{"no Host (HTTP/1.0)", "", "", true},
		{"rebinding name", "evil.example.com", "", false},
		{"a suffix is not the name", "mcp.example.com.evil.example", "", false},
		{"a subdomain is not the name", "x.localhost", "", false},

		{"same origin", "127.0.0.1:8081", "http://127.0.0.1:8081", true},
		{"same origin, default port", "mcp.example.com", "https://mcp.example.com:443", true},
		{"public origin", "10.0.0.5:8080", "https://mcp.example.com", true},
		{"public origin with port", "10.0.0.5:8080", "http://gw.internal.example:8443", true},
		{"conformance: evil host and origin", "evil.example.com", "http://evil.example.com", false},
		{"other origin", "127.0.0.1:8081", "http://evil.example.com", false},
		{"loopback origin on another port", "127.0.0.1:8081", "http://127.0.0.1:9999", false},
		{"public host, wrong scheme", "10.0.0.5", "http://mcp.example.com", false},
		{"null origin", "127.0.0.1:8081", "null", false},
		{"not a URL", "127.0.0.1:8081", "::", false},
		{"origin with a path", "127.0.0.1:8081", "http://127.0.0.1:8081/x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "http://x/mcp/ns/s", nil)
			r.Host = tt.host
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			err := p.Check(r)
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	h := New(Config{}).Handler(func(w http.ResponseWriter, _ *http.Request, status int, msg string) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(msg))
	}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))

	r := httptest.NewRequest(http.MethodPost, "http://evil.example.com/mcp/ns/s", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	assert.Equal(t, http.StatusForbidden, rec.Code)
	assert.Equal(t, `Forbidden: host "evil.example.com" is not a name of this gateway`, rec.Body.String())

	r = httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8081/mcp/ns/s", nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	assert.Equal(t, http.StatusTeapot, rec.Code, "passed on")
}
