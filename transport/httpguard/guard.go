// Package httpguard holds the checks every MCP streamable-HTTP request passes
// before it reaches a bridge or the proxy: Origin validation (DNS-rebinding
// protection), the body size limit and the MCP-Protocol-Version header.
package httpguard

import (
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// Origins decides which browser origins may call the endpoint (DNS
// rebinding protection, with Hosts). Requests without an Origin (non-browser
// clients, the gateway) are always allowed; an Origin is allowed when it is
// on the list, is the request's own host (same origin: the Host check then
// decides), or is a loopback host (a local client); others get 403.
type Origins struct {
	allowed map[string]bool
	any     bool
}

// ParseOrigins parses the --allowed-origins comma list. "*" allows any.
func ParseOrigins(list string) *Origins {
	o := &Origins{allowed: map[string]bool{}}
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		switch {
		case s == "":
		case s == "*":
			o.any = true
		default:
			o.allowed[normalizeOrigin(s)] = true
		}
	}
	return o
}

func normalizeOrigin(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return strings.ToLower(strings.TrimRight(s, "/"))
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// Allowed reports whether the request's Origin may talk to us.
func (o *Origins) Allowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || o.any || o.allowed[normalizeOrigin(origin)] {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host) || isLoopback(u.Hostname())
}

// Hosts decides which Host headers the endpoint answers: the pod's own
// names and addresses, loopback, and configured names. A request for any
// other host is a browser tricked by DNS rebinding (or a misrouted one).
type Hosts struct {
	allowed map[string]bool
	any     bool
}

// ParseHosts parses the --allowed-hosts comma list ("*": any) and adds this
// machine's hostname and interface addresses.
func ParseHosts(list string) *Hosts {
	h := &Hosts{allowed: map[string]bool{}}
	for _, s := range strings.Split(list, ",") {
		switch s = strings.ToLower(strings.TrimSpace(s)); s {
		case "":
		case "*":
			h.any = true
		default:
			h.allowed[s] = true
		}
	}
	if name, err := os.Hostname(); err == nil {
		h.allowed[strings.ToLower(name)] = true
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				h.allowed[n.IP.String()] = true
			}
		}
	}
	return h
}

// Allowed reports whether the request's Host is one of ours.
func (h *Hosts) Allowed(r *http.Request) bool {
	if h == nil || h.any || r.Host == "" {
		return true
	}
	host := r.Host
	if hn, _, err := net.SplitHostPort(host); err == nil {
		host = hn
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	return isLoopback(host) || h.allowed[host]
}

func isLoopback(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Config is what Wrap enforces.
type Config struct {
	Origins      *Origins
	Hosts        *Hosts
	MaxBodyBytes int64
	// PassVersions leaves MCP-Protocol-Version to the server behind us: a
	// proxy must not refuse a revision newer than this binary knows that
	// the client and the server negotiated.
	PassVersions bool
	// OnReject is called with the HTTP status of every rejected request
	// (metrics); may be nil.
	OnReject func(status int)
}

// Wrap applies the checks in front of next: 403 for a foreign Origin, 400
// for an unsupported MCP-Protocol-Version, and a body limit (next sees a
// reader that fails with *http.MaxBytesError beyond MaxBodyBytes and must
// answer 413; see [BodyTooLarge]).
func Wrap(cfg Config, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reject := func(status int, msg string) {
			if cfg.OnReject != nil {
				cfg.OnReject(status)
			}
			http.Error(w, msg, status)
		}
		if !cfg.Hosts.Allowed(r) {
			rejectRPC(w, cfg, http.StatusForbidden, "host not allowed: this MCP endpoint does not serve "+r.Host)
			return
		}
		if cfg.Origins != nil && !cfg.Origins.Allowed(r) {
			rejectRPC(w, cfg, http.StatusForbidden, "origin not allowed")
			return
		}
		if _, ok := mcp.HeaderVersion(r.Header.Get(api.HeaderProtocolVersion)); !ok && !cfg.PassVersions {
			reject(http.StatusBadRequest, mcp.UnsupportedVersionMessage())
			return
		}
		if r.ContentLength > cfg.MaxBodyBytes && cfg.MaxBodyBytes > 0 {
			reject(http.StatusRequestEntityTooLarge, "request body too large")
			return
		}
		if cfg.MaxBodyBytes > 0 && r.Body != nil && r.ContentLength < 0 {
			// A body of unknown length (chunked) is cut at the limit; one
			// with a Content-Length within it cannot outgrow it (net/http
			// reads no further), so it needs no second reader.
			r.Body = http.MaxBytesReader(w, r.Body, cfg.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// rejectRPC refuses with a JSON-RPC error without an id, as the transport
// allows for a 403.
func rejectRPC(w http.ResponseWriter, cfg Config, status int, msg string) {
	if cfg.OnReject != nil {
		cfg.OnReject(status)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(mcp.ErrorResponse(nil, mcp.CodeInvalidRequest, msg, nil))
}
