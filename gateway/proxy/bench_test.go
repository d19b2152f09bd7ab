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
