package stdio

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// A 2026-07-28 client mirrors the arguments a tool annotates with
// x-mcp-header into Mcp-Param-* headers, and whoever processes the body
// must check that they agree (400, -32020 if not): here, since a stdio
// server never sees the headers. The annotations come from the server's
// tools/list answers as they pass; a tools/call of a tool not seen yet
// makes the bridge list the tools itself first.

// Bounds of the bridge's own tools/list: pages, and time for all of them.
const (
	maxToolPages = 20
	toolListWait = 10 * time.Second
)

// toolHeaders is what the bridge knows of the server's tools' annotations.
type toolHeaders struct {
	mu    sync.Mutex
	tools map[string][]mcp.ParamHeader // by tool name; nil: none (or the tool is invalid)
}

func newToolHeaders() *toolHeaders { return &toolHeaders{tools: map[string][]mcp.ParamHeader{}} }

// learn reads the tools of a tools/list response.
func (t *toolHeaders) learn(raw []byte, log *slog.Logger) {
	var page struct {
		Tools []struct {
			Name        string          `json:"name"`
			InputSchema json.RawMessage `json:"inputSchema"`
		} `json:"tools"`
	}
	if json.Unmarshal(mcp.Lookup(raw, "result"), &page) != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tool := range page.Tools {
		ps, err := mcp.ParamHeaders(tool.InputSchema)
		if _, known := t.tools[tool.Name]; err != nil && !known {
			// Clients leave such a tool out; a call of it anyway is not checked.
			log.Warn("a tool's x-mcp-header annotations are invalid", "tool", tool.Name, "reason", err.Error())
		}
		t.tools[tool.Name] = ps
	}
}

func (t *toolHeaders) lookup(name string) ([]mcp.ParamHeader, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ps, ok := t.tools[name]
	return ps, ok
}

// checkParamHeaders answers a tools/call whose Mcp-Param-* headers do not
// agree with its arguments, and reports whether it did.
func (p *mproc) checkParamHeaders(w http.ResponseWriter, r *http.Request, msg *mcp.Message) bool {
	name := mcp.Name(msg)
	ps, known := p.m.tools.lookup(name)
	if !known {
		p.listTools(r.Context(), mcp.Lookup(msg.Params, "_meta"))
		ps, _ = p.m.tools.lookup(name) // still unknown: the server answers for its own tool
	}
	if v := mcp.CheckParamHeaders(r.Header, mcp.Lookup(msg.Params, "arguments"), ps); v != nil {
		p.m.jsonRPCError(w, v.Status, v.Response(msg.ID))
		return true
	}
	return false
}

// listTools asks the process for all its tools (the client's _meta on each
// page); respond learns them, as from any tools/list.
func (p *mproc) listTools(ctx context.Context, meta json.RawMessage) {
	ctx, cancel := context.WithTimeout(ctx, toolListWait)
	defer cancel()
	cursor := ""
	for range maxToolPages {
		params := map[string]any{"_meta": meta}
		if cursor != "" {
			params["cursor"] = cursor
		}
		raw, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 0, "method": api.MethodToolsList, "params": params})
		reply := make(replyFront, 1)
		ex := &exchange{p: p, method: api.MethodToolsList, started: time.Now(), clientID: json.RawMessage("0"), st: reply}
		if p.send(ex, raw) != nil {
			return
		}
		select {
		case resp := <-reply:
			cursor = ""
			_ = json.Unmarshal(mcp.Lookup(resp, "result", "nextCursor"), &cursor)
			if cursor == "" {
				return
			}
		case <-ctx.Done():
			p.cancel(ex, "the sidecar's tools/list took too long")
			return
		}
	}
}

// replyFront takes the response of a request of the sidecar's own.
type replyFront chan []byte

func (f replyFront) push(data []byte, response bool) bool {
	if response {
		select {
		case f <- data:
		default:
		}
	}
	return true
}
