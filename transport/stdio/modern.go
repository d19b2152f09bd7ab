package stdio

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// translatedMethods are the 2026-07-28 requests a legacy server can serve
// through the sidecar; a modern client calling anything else of a legacy
// server (initialize, ping, logging/setLevel, resources/subscribe: removed
// in this revision; extensions) gets "Method not found" (HTTP 404) from the
// sidecar: legacy servers answer unknown methods in their own ways.
var translatedMethods = []string{api.MethodDiscover, api.MethodSubscriptionsListen, api.MethodToolsList, api.MethodToolsCall, api.MethodPromptsList,
	api.MethodPromptsGet, api.MethodResourcesList, api.MethodResourcesRead, api.MethodResourceTemplatesList, api.MethodComplete}

// handlePostModern serves one stateless (2026-07-28) request: validate it,
// learn the server's era, answer what the sidecar answers itself
// (server/discover, removed methods), else pass it to the caller's process
// and answer from there.
func (m *Manager) handlePostModern(w http.ResponseWriter, r *http.Request, msg *mcp.Message, jsonOK, sseOK bool) {
	if msg.Kind != mcp.KindRequest {
		// 2026-07-28 defines no client notifications over HTTP (closing a
		// stream is the cancellation); responses must not be sent at all.
		if msg.Kind == mcp.KindResponse {
			m.jsonRPCError(w, http.StatusBadRequest, mcp.InvalidRequest(nil, "clients must not send responses in this protocol revision"))
			return
		}
		w.WriteHeader(http.StatusAccepted)
		return
	}
	meta, v := mcp.ValidateModern(r.Header, msg)
	if v != nil {
		m.jsonRPCError(w, v.Status, v.Response(msg.ID))
		return
	}
	m.metrics.Request(msg.Method)
	if m.log.Enabled(r.Context(), slog.LevelDebug) {
		start := time.Now()
		defer func() {
			m.log.Debug("stateless request", "method", msg.Method, "name", mcp.Name(msg), "took", time.Since(start).String())
		}()
	}
	info, err := m.serverEra(r.Context())
	if err != nil {
		m.unavailable(w, msg.ID, "the MCP server is starting, retry")
		return
	}
	if answered := m.answerLocally(w, msg, info); answered {
		return
	}
	p, err := m.procFor(r.Context(), m.procKey(r, meta, info), info, meta)
	if err != nil {
		m.procError(w, msg.ID, err)
		return
	}
	if msg.Method == api.MethodToolsCall && p.checkParamHeaders(w, r, msg) {
		return
	}
	if p.translate {
		p.serveTranslated(w, r, msg, meta, jsonOK, sseOK)
		return
	}
	m.forwardModern(w, r, p, newExchange(p, msg, meta, sseOK), msg.Raw, jsonOK, sseOK)
}

// forwardModern sends ex's request to the process and answers from it.
func (m *Manager) forwardModern(w http.ResponseWriter, r *http.Request, p *mproc, ex *exchange, raw []byte, jsonOK, sseOK bool) {
	if ex.method == api.MethodSubscriptionsListen {
		ex.listen = &listenFilter{}
	}
	st, id := ex.st.(*stream), ex.clientID // before sending: an MRTR park replaces it
	if err := p.send(ex, raw); err != nil {
		p.log.Warn("forwarding to the MCP server failed", "err", err)
		m.jsonRPCError(w, http.StatusServiceUnavailable, mcp.ServerGone(id, err.Error()))
		return
	}
	m.serveModern(w, r, ex, st, jsonOK, sseOK)
}

// serverEra waits (within the start timeout) until the prober knows what
// the server speaks.
func (m *Manager) serverEra(ctx context.Context) (*eraInfo, error) {
	if info := m.era.peek(); info != nil {
		return info, nil // known: no timer for the wait
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.StartTimeout)
	defer cancel()
	return m.era.get(ctx)
}

// answerLocally answers server/discover from what the prober learned (no
// process needed: discovery is static) and refuses the methods this
// revision removed when the server is legacy (a modern server answers
// them itself).
func (m *Manager) answerLocally(w http.ResponseWriter, msg *mcp.Message, info *eraInfo) bool {
	switch {
	case msg.Method == api.MethodDiscover:
		res := m.discoverFor(info)
		if res == nil {
			return false // a modern server whose answer we could not read: ask it
		}
		writeResult(w, msg.ID, res)
		return true
	case !info.modern && !slices.Contains(translatedMethods, msg.Method):
		m.jsonRPCError(w, http.StatusNotFound, mcp.ErrorResponse(msg.ID, mcp.CodeMethodNotFound, "Method not found: "+msg.Method+" does not exist in protocol revision 2026-07-28", nil))
		return true
	}
	return false
}

func writeResult(w http.ResponseWriter, id, result json.RawMessage) {
	b, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Result  json.RawMessage `json:"result"`
	}{"2.0", id, result})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (m *Manager) unavailable(w http.ResponseWriter, id json.RawMessage, msg string) {
	w.Header().Set("Retry-After", "2")
	m.jsonRPCError(w, http.StatusServiceUnavailable, mcp.ErrorResponse(id, api.CodeServerError, msg, nil))
}

func (m *Manager) procError(w http.ResponseWriter, id json.RawMessage, err error) {
	if errors.Is(err, ErrTooManySessions) {
		w.Header().Set("Retry-After", "5")
		m.jsonRPCError(w, http.StatusServiceUnavailable, mcp.ErrorResponse(id, api.CodeServerError, "too many sessions, retry later", nil))
		return
	}
	m.log.Error("starting an MCP server process for stateless requests", "err", err)
	m.unavailable(w, id, "could not start the MCP server, retry")
}
