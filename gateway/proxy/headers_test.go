package proxy

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
)

// headerPod is an upstream that records the headers of the request it got
// and answers initialize with hop-by-hop headers of its own.
func headerPod(t *testing.T, got chan<- http.Header) *mcptest.Backend {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		h := w.Header()
		h.Set("Connection", "X-Pod-Hop, Keep-Alive")
		h.Set("X-Pod-Hop", "for the gateway only")
		h.Set("Keep-Alive", "timeout=5")
		h.Set("Proxy-Authenticate", `Basic realm="pod"`)
		h.Set("Upgrade", "h2c")
		h.Set("X-Pod-End", "kept")
		h.Set(api.HeaderSessionID, "pod-session")
		h.Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"p","version":"1"}}}`))
	}))
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	return &mcptest.Backend{Name: "header-pod", Port: port, URL: srv.URL + "/mcp"}
}

func TestForwardedAndHopByHopHeaders(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		tls   bool
		proto string
	}{
		{"plain http", false, "http"},
		{"tls", true, "https"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			got := make(chan http.Header, 1)
			h.addPod(headerPod(t, got), "ns", "srv", nil)
			r := http.NewServeMux()
			r.Handle("/mcp/{namespace}/{server}", New(Options{Router: h.registry, Codec: h.codec, Metrics: h.metrics,
				Log: discardLog(), Transport: NewTransport(time.Second, 10*time.Second)}))
			gw := httptest.NewUnstartedServer(r)
			if tt.tls {
				gw.StartTLS()
			} else {
				gw.Start()
			}
			t.Cleanup(gw.Close)

			resp, err := gw.Client().Do(hopByHopRequest(t, gw.URL+"/mcp/ns/srv"))
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)

			var atPod http.Header
			select {
			case atPod = <-got:
			default:
				t.Fatal("the request never reached the pod")
			}
			for _, k := range []string{"Connection", "X-Secret", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Te", "Upgrade"} {
				assert.Empty(t, atPod.Values(k), "request header %s reached the pod", k)
			}
			assert.Equal(t, "kept", atPod.Get("X-Client-End"))
			assert.Equal(t, []string{"203.0.113.7, 127.0.0.1"}, atPod.Values("X-Forwarded-For"))
			assert.Equal(t, tt.proto, atPod.Get("X-Forwarded-Proto"))
			assert.Equal(t, strings.TrimPrefix(gw.URL, tt.proto+"://"), atPod.Get("X-Forwarded-Host"))

			for _, k := range []string{"Connection", "X-Pod-Hop", "Keep-Alive", "Proxy-Authenticate", "Upgrade"} {
				assert.Empty(t, resp.Header.Values(k), "response header %s reached the client", k)
			}
			assert.Equal(t, "kept", resp.Header.Get("X-Pod-End"))
			assert.NotEmpty(t, resp.Header.Get(api.HeaderSessionID))
			assert.NotEqual(t, "pod-session", resp.Header.Get(api.HeaderSessionID), "the gateway's own session id")
		})
	}
}

// hopByHopRequest is an initialize carrying hop-by-hop headers, a header
// Connection names, and X-Forwarded-* of earlier proxies and of the client.
func hopByHopRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Connection", "X-Secret")
	req.Header.Set("X-Secret", "for the gateway only")
	req.Header.Set("Keep-Alive", "timeout=300")
	req.Header.Set("Proxy-Connection", "keep-alive")
	req.Header.Set("Proxy-Authorization", "Basic c2VjcmV0")
	req.Header.Set("Te", "trailers")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("X-Client-End", "kept")
	req.Header.Set("X-Forwarded-For", "203.0.113.7") // an earlier proxy's entry
	req.Header.Set("X-Forwarded-Proto", "ftp")       // a client's claim: replaced
	req.Header.Set("X-Forwarded-Host", "claimed.example")
	return req
}

func TestCopyHeaders(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		src, want http.Header
		drop      []string
	}{
		{
			name: "Connection names several headers, in several lines, any case",
			src: http.Header{
				"Connection": {"x-a , X-B", "close"}, "X-A": {"1"}, "X-B": {"2"}, "X-C": {"3"},
			},
			want: http.Header{"X-C": {"3"}},
		},
		{
			name: "an empty name in Connection removes nothing else",
			src:  http.Header{"Connection": {", ,"}, "X-C": {"3"}},
			want: http.Header{"X-C": {"3"}},
		},
		{
			name: "the fixed list and drop",
			src: http.Header{
				"Keep-Alive": {"1"}, "Te": {"trailers"}, "Trailer": {"X-T"}, "Transfer-Encoding": {"chunked"},
				"Upgrade": {"h2c"}, "Proxy-Connection": {"keep-alive"}, "Proxy-Authenticate": {"Basic"},
				"Proxy-Authorization": {"Basic x"}, "Authorization": {"Bearer t"}, "X-C": {"3", "4"},
			},
			drop: []string{"Authorization"},
			want: http.Header{"X-C": {"3", "4"}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dst := http.Header{}
			copyHeaders(dst, tt.src, tt.drop)
			assert.Equal(t, tt.want, dst)
		})
	}
}

func TestSetForwarded(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		remoteAddr string
		prior      []string
		wantFor    []string
	}{
		{"first proxy", "10.0.0.9:4242", nil, []string{"10.0.0.9"}},
		{"after other proxies, in two lines", "10.0.0.9:4242", []string{"198.51.100.1", "192.0.2.3, 192.0.2.4"},
			[]string{"198.51.100.1, 192.0.2.3, 192.0.2.4, 10.0.0.9"}},
		{"ipv6 client", "[2001:db8::1]:4242", nil, []string{"2001:db8::1"}},
		{"no address: nothing made up", "", []string{"198.51.100.1"}, []string{"198.51.100.1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "http://gw.example/mcp/ns/srv", nil)
			r.RemoteAddr = tt.remoteAddr
			out := http.Header{}
			for _, v := range tt.prior {
				out.Add("X-Forwarded-For", v)
			}
			setForwarded(out, r)
			assert.Equal(t, tt.wantFor, out.Values("X-Forwarded-For"))
			assert.Equal(t, "http", out.Get("X-Forwarded-Proto"))
			assert.Equal(t, "gw.example", out.Get("X-Forwarded-Host"))
		})
	}
}
