package proxy

import (
	"fmt"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
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
