package virtual_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
)

// BenchmarkVirtual measures, in one run, what a virtual server costs over
// its members' own endpoints, with the MCP Go SDK v1.8 client's defaults
// (2026-07-28) through one gateway in process, members SDK servers
// (stateless, as sidecars present them), the sides alternating in chunks:
//
//   - tools/call through a two-member virtual server against the member's
//     own endpoint (calls/s, ratio, p50, p99);
//
//   - tools/list of a five-member virtual server against one member's own
//     endpoint, and of a one-member virtual server (p50, p99: a list asks
//     every member, concurrently, and merges).
//
//     go test ./gateway/virtual -run '^$' -bench Virtual -benchtime 4000x
func BenchmarkVirtual(b *testing.B) {
	h := newHarness(b, 2*time.Second)
	names := []string{"alpha", "beta", "gamma", "delta", "epsilon"}
	for _, n := range names {
		h.member(mcptest.NewStatelessBackend(b, n, false), "ns", n, nil)
	}
	h.define("ns", "two", "two", "members:\n- server: alpha\n- server: beta\n")
	h.define("ns", "one", "one", "members:\n- server: alpha\n")
	var five strings.Builder
	five.WriteString("members:\n")
	for _, n := range names {
		five.WriteString("- server: " + n + "\n")
	}
	h.define("ns", "five", "five", five.String())
	for _, sessions := range []int{16, 1} {
		b.Run(fmt.Sprintf("tools-call/sessions=%d", sessions), func(b *testing.B) {
			sides := [][]*mcp.ClientSession{open(b, h, "alpha", sessions), open(b, h, "two", sessions)}
			ops := []func(*mcp.ClientSession) error{call("echo"), call("alpha__echo")}
			c := mcptest.NewCompare("member", "virtual")
			alternate(b, c, sides, ops)
			c.Report(b, [2]int{1, 0})
		})
		b.Run(fmt.Sprintf("tools-list/sessions=%d", sessions), func(b *testing.B) {
			sides := [][]*mcp.ClientSession{open(b, h, "alpha", sessions), open(b, h, "one", sessions), open(b, h, "five", sessions)}
			ops := []func(*mcp.ClientSession) error{list(5), list(5), list(25)}
			c := mcptest.NewCompare("member", "virtual1", "virtual5")
			alternate(b, c, sides, ops)
			c.Report(b, [2]int{1, 0}, [2]int{2, 0})
		})
	}
}

func open(b *testing.B, h *harness, server string, n int) []*mcp.ClientSession {
	b.Helper()
	return mcptest.OpenSessions(b, h.url+"/mcp/ns/"+server, n)
}

func call(tool string) func(*mcp.ClientSession) error {
	args := map[string]any{"text": "hello"}
	return func(cs *mcp.ClientSession) error {
		_, err := mcptest.Call(context.Background(), cs, tool, args)
		return err
	}
}

// list lists the tools and checks there are want.
func list(want int) func(*mcp.ClientSession) error {
	return func(cs *mcp.ClientSession) error {
		res, err := cs.ListTools(context.Background(), nil)
		if err == nil && len(res.Tools) != want {
			err = fmt.Errorf("%d tools, want %d", len(res.Tools), want)
		}
		return err
	}
}

// alternate runs b.N operations per side, in chunks of
// mcptest.ChunkPerSession per session, the sides taking turns.
func alternate(b *testing.B, c *mcptest.Compare, sides [][]*mcp.ClientSession, ops []func(*mcp.ClientSession) error) {
	chunk := mcptest.ChunkPerSession * len(sides[0])
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		for i, sessions := range sides {
			lat, d := mcptest.RunChunk(b, sessions, n, ops[i])
			c.Add(i, lat, d)
		}
	}
	b.StopTimer()
}
