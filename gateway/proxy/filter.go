package proxy

import (
	"fmt"
	"net/http"

	"github.com/archestra-ai/mcp-orchestrator/gateway/discovery"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
	"github.com/archestra-ai/mcp-orchestrator/internal/toolfilter"
)

// The allow-list is enforced by internal/toolfilter, the implementation
// the sidecar runs too; these adapt it to the proxy's request.

// refuseTools answers a tools/call of a tool outside the pod's allow-list
// with a JSON-RPC error (the whole batch, if it is in one) and reports true.
func (p *Proxy) refuseTools(w http.ResponseWriter, req *request, ep *discovery.Endpoint) bool {
	tool, refused := ep.Tools.Refused(req.msgs)
	if !refused {
		return false
	}
	toolfilter.Refuse(w, req.msgs, req.batch, toolfilter.NotAllowed(tool, fmt.Sprintf("server %s/%s", req.ns, req.server)))
	return true
}

// ambiguousKey: see toolfilter.AmbiguousKey.
func ambiguousKey(m *mcp.Message) string { return toolfilter.AmbiguousKey(m) }
