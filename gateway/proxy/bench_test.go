package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
	"github.com/archestra-ai/mcp-orchestrator/gateway/session"
)

// BenchmarkToolsCall measures tools/call from concurrent SDK client
// sessions (64: the target; 1: the latency one hop adds on an idle
// machine) straight to an MCP Go SDK server and through the gateway (one
// pod), alternating in chunks, and reports both throughputs, their ratio
// and p50/p99 of each. b.N calls per side.
//
//	go test ./gateway/proxy -run '^$' -bench ToolsCall -benchtime 20000x
func BenchmarkToolsCall(b *testing.B) {
	for _, sessions := range []int{64, 1} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) { benchToolsCall(b, sessions) })
	}
}

func benchToolsCall(b *testing.B, sessions int) {
	h := newHarness(b)
	backend := mcptest.NewBackend(b, "bench")
	h.addPod(backend, "ns", "srv", nil)
	direct := mcptest.OpenSessions(b, backend.URL, sessions)
	gateway := mcptest.OpenSessions(b, h.gateway()+"/mcp/ns/srv", sessions)
	chunk := mcptest.ChunkPerSession * sessions

	var sides mcptest.Sides
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		for side, sessions := range [][]*mcp.ClientSession{direct, gateway} {
			lat, d := mcptest.CallChunk(b, sessions, n)
			sides.Add(side, lat, d)
		}
	}
	b.StopTimer()
	sides.Report(b)
}

// BenchmarkToolsCallEras measures tools/call of both protocol eras in one
// run, alternating in chunks as BenchmarkToolsCall does, with the MCP Go
// SDK v1.8 client's defaults: 2026-07-28 against a stateless SDK server,
// and a legacy session (the client falls back from server/discover)
// against a stateful one; each straight to the server and through the
// gateway. It reports each side and the ratios gateway/direct per era and
// modern/legacy through the gateway (and direct, the servers' own share).
//
//	go test ./gateway/proxy -run '^$' -bench ToolsCallEras -benchtime 10000x
func BenchmarkToolsCallEras(b *testing.B) {
	for _, sessions := range []int{64, 1} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) { benchEras(b, sessions) })
	}
}

func benchEras(b *testing.B, sessions int) {
	h := newHarness(b)
	modern := mcptest.NewStatelessBackend(b, "modern", false)
	legacy := mcptest.NewBackend(b, "legacy")
	h.addPod(modern, "ns", "modern", nil)
	h.addPod(legacy, "ns", "legacy", nil)
	gw := h.gateway()
	sides := [][]*mcp.ClientSession{
		mcptest.OpenSessions(b, modern.URL, sessions),
		mcptest.OpenSessions(b, gw+"/mcp/ns/modern", sessions),
		mcptest.OpenSessions(b, legacy.URL, sessions),
		mcptest.OpenSessions(b, gw+"/mcp/ns/legacy", sessions),
	}
	if sides[1][0].ID() != "" || sides[3][0].ID() == "" {
		b.Fatal("the clients did not speak the era each side measures")
	}
	const modernDirect, modernGateway, legacyDirect, legacyGateway = 0, 1, 2, 3
	c := mcptest.NewCompare("modern-direct", "modern-gateway", "legacy-direct", "legacy-gateway")
	chunk := mcptest.ChunkPerSession * sessions
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		for side, s := range sides {
			lat, d := mcptest.CallChunk(b, s, n)
			c.Add(side, lat, d)
		}
	}
	b.StopTimer()
	c.Report(b, [2]int{modernGateway, modernDirect}, [2]int{legacyGateway, legacyDirect},
		[2]int{modernGateway, legacyGateway}, [2]int{modernDirect, legacyDirect})
}

// BenchmarkHandler measures the gateway's own work for one tools/call of
// each era, without the network: the handler in process, the pod a canned
// event-stream answer of the size the SDK server sends. A 2026-07-28 call
// is validated (headers against body) and routed per request; a legacy one
// carries a session id that is verified (HMAC) and looked up.
//
//	go test ./gateway/proxy -run '^$' -bench Handler -benchmem
func BenchmarkHandler(b *testing.B) {
	h := newHarness(b)
	pod := h.addPod(mcptest.NewBackend(b, "x"), "ns", "srv", nil)
	sid := h.codec.Encode(session.Scope{Namespace: "ns", Server: "srv"}, session.Ref{PodUID: string(pod.UID), Upstream: "pod-session"})
	for _, tt := range []struct {
		name, body, answer string
		hdr                map[string]string
	}{
		{"era=modern", `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"roots":{"listChanged":true}},` +
			`"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"test"},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"echo","arguments":{"text":"hello"}}}`,
			`{"jsonrpc":"2.0","id":2,"result":{"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"x","version":"test"}},"content":[{"type":"text","text":"x: hello"}],"resultType":"complete"}}`,
			map[string]string{api.HeaderProtocolVersion: api.MCPVersion20260728, api.HeaderMethod: "tools/call", api.HeaderName: "echo"}},
		{"era=legacy", `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}`,
			`{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"x: hello"}]}}`,
			map[string]string{api.HeaderProtocolVersion: api.MCPVersion20251125, api.HeaderSessionID: sid}},
	} {
		mux := http.NewServeMux()
		mux.Handle("/mcp/{namespace}/{server}", New(Options{Router: h.registry, Codec: h.codec, Metrics: h.metrics, Log: discardLog(),
			Transport: cannedPod("event: message\ndata: " + tt.answer + "\n\n")}))
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				r := httptest.NewRequest(http.MethodPost, "/mcp/ns/srv", strings.NewReader(tt.body))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Accept", "application/json, text/event-stream")
				for k, v := range tt.hdr {
					r.Header.Set(k, v)
				}
				w := httptest.NewRecorder()
				mux.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}

// cannedPod answers every request with the event stream sse.
type cannedPod string

func (c cannedPod) RoundTrip(r *http.Request) (*http.Response, error) {
	_, _ = io.Copy(io.Discard, r.Body)
	h := http.Header{"Content-Type": {"text/event-stream"}, "Cache-Control": {"no-cache, no-transform"}}
	return &http.Response{StatusCode: http.StatusOK, Header: h, Body: io.NopCloser(strings.NewReader(string(c))), Request: r}, nil
}

// BenchmarkFirstResult measures a new client's time to its first tool
// result through the gateway, per era, alternating: connect (a 2026-07-28
// client sends one server/discover; against a legacy server it falls back
// to initialize, initialized and the session's GET stream) and one
// tools/call. b.N clients per era ("calls/s" are clients per second).
//
//	go test ./gateway/proxy -run '^$' -bench FirstResult -benchtime 500x
func BenchmarkFirstResult(b *testing.B) {
	h := newHarness(b)
	h.addPod(mcptest.NewStatelessBackend(b, "modern", false), "ns", "modern", nil)
	h.addPod(mcptest.NewBackend(b, "legacy"), "ns", "legacy", nil)
	gw := h.gateway()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	ctx := context.Background()
	c := mcptest.NewCompare("modern", "legacy")
	b.ResetTimer()
	for range b.N {
		for side, server := range []string{"modern", "legacy"} {
			start := time.Now()
			cs, err := mcptest.ConnectWith(ctx, gw+"/mcp/ns/"+server, hc, nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := mcptest.Call(ctx, cs, "whoami", nil); err != nil {
				b.Fatal(err)
			}
			d := time.Since(start)
			c.Add(side, []time.Duration{d}, d)
			_ = cs.Close()
		}
	}
	b.StopTimer()
	c.Report(b, [2]int{0, 1})
}
