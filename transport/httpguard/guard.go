// Package httpguard holds the checks every MCP streamable-HTTP request passes
// before it reaches a bridge or the proxy: Origin validation (DNS-rebinding
// protection), the body size limit and the MCP-Protocol-Version header.
package httpguard

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// Origins is an allow-list of Origin header values. Requests without an
// Origin (non-browser clients, the gateway) are always allowed; a browser
// request from an origin not on the list gets 403.
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
	if origin == "" || o.any {
		return true
	}
	return o.allowed[normalizeOrigin(origin)]
}

// Config is what Wrap enforces.
type Config struct {
	Origins      *Origins
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
		if cfg.Origins != nil && !cfg.Origins.Allowed(r) {
			reject(http.StatusForbidden, "origin not allowed")
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
		if cfg.MaxBodyBytes > 0 && r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, cfg.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}
