package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// WellKnownPRM is the RFC 9728 well-known path; a resource's metadata is at
// this path followed by the resource's own path.
const WellKnownPRM = "/.well-known/oauth-protected-resource"

// Resources knows the gateway's canonical external URLs (--public-url) and
// derives from them what RFC 8707 and RFC 9728 need: each MCP server's
// resource identifier (https://<gateway>/mcp/<ns>/<server>), which a token
// for it must carry in aud, and where its Protected Resource Metadata is.
type Resources struct {
	bases []string // canonical scheme://host[:port], no path
	// AuthorizationServers and ScopesSupported go into every metadata
	// document.
	AuthorizationServers []string
	ScopesSupported      []string
}

// NewResources parses the public URLs: absolute http(s) URLs with no path,
// query, fragment or user info, made canonical (lowercase scheme and host,
// no default port).
func NewResources(publicURLs []string) (*Resources, error) {
	if len(publicURLs) == 0 {
		return nil, errors.New("no public URL")
	}
	r := &Resources{}
	for _, s := range publicURLs {
		b, err := canonicalBase(s)
		if err != nil {
			return nil, fmt.Errorf("public URL %q: %w", s, err)
		}
		if !slices.Contains(r.bases, b) {
			r.bases = append(r.bases, b)
		}
	}
	return r, nil
}

func canonicalBase(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "HTTP" && u.Scheme != "HTTPS" {
		return "", errors.New("want http(s)://host[:port]")
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", errors.New("want http(s)://host[:port], no user info, query or fragment")
	}
	if strings.TrimSuffix(u.EscapedPath(), "/") != "" {
		return "", errors.New("a path is not supported: the gateway serves /mcp/<namespace>/<server> at the root of its URL")
	}
	c, ok := canonicalURL(s)
	if !ok {
		return "", errors.New("not a valid URL")
	}
	return c, nil
}

// canonicalURL puts an absolute http(s) URL in the canonical form of the
// MCP spec: lowercase scheme and host, no default port, no trailing slash,
// no fragment. ok is false for anything else (a client ID as audience).
func canonicalURL(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Fragment != "" || u.User != nil {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host := strings.ToLower(u.Host)
	if h, p, err := net.SplitHostPort(host); err == nil && ((scheme == "https" && p == "443") || (scheme == "http" && p == "80")) {
		host = h
		if strings.Contains(h, ":") {
			host = "[" + h + "]"
		}
	}
	out := scheme + "://" + host + strings.TrimSuffix(u.EscapedPath(), "/")
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out, true
}

// advertised reports whether there is metadata to publish: an
// authorization server clients can get tokens from.
func (r *Resources) advertised() bool { return r != nil && len(r.AuthorizationServers) > 0 }

// Bases are the canonical public URLs.
func (r *Resources) Bases() []string { return slices.Clone(r.bases) }

// ServerPath is the path of an MCP server's endpoint.
func ServerPath(ns, server string) string {
	return "/mcp/" + url.PathEscape(ns) + "/" + url.PathEscape(server)
}

// Target is what a request for a is for: the MCP server's URL under every
// public URL, or for the operators' API the public URLs themselves.
func (r *Resources) Target(a Attributes) Target {
	if r == nil {
		return Target{}
	}
	path := r.path(a)
	t := Target{Resources: make([]string, len(r.bases))}
	for i, b := range r.bases {
		t.Resources[i] = b + path
	}
	return t
}

func (r *Resources) path(a Attributes) string {
	if a.Verb == api.VerbUse && a.Subresource == "" {
		return ServerPath(a.Namespace, a.Name)
	}
	return ""
}

// base is the public URL the request came in by (its Host), else the first.
func (r *Resources) base(req *http.Request) string {
	host := strings.ToLower(req.Host)
	for _, b := range r.bases {
		_, h, _ := strings.Cut(b, "://")
		if h == host || h == strings.TrimSuffix(strings.TrimSuffix(host, ":443"), ":80") {
			return b
		}
	}
	return r.bases[0]
}

// MetadataURL is the URL of the metadata of what req asks for a.
func (r *Resources) MetadataURL(req *http.Request, a Attributes) string {
	return r.base(req) + WellKnownPRM + r.path(a)
}

// metadata is an RFC 9728 Protected Resource Metadata document.
type metadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers,omitempty"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ResourceName           string   `json:"resource_name,omitempty"`
}

// Register serves the metadata of every MCP server path and of the
// gateway's own URL (the operators' API). They are public: a client reads
// them before it has a token. The document names the resource by the
// public URL the request came in by, which is what the client asked for.
func (r *Resources) Register(mux *http.ServeMux) {
	if !r.advertised() {
		return // metadata without an authorization server helps no client
	}
	mux.HandleFunc("GET "+WellKnownPRM+"/mcp/{namespace}/{server}", func(w http.ResponseWriter, req *http.Request) {
		ns, server := req.PathValue("namespace"), req.PathValue("server")
		r.serve(w, metadata{
			Resource:     r.base(req) + ServerPath(ns, server),
			ResourceName: "MCP server " + ns + "/" + server,
		})
	})
	mux.HandleFunc("GET "+WellKnownPRM, func(w http.ResponseWriter, req *http.Request) {
		r.serve(w, metadata{Resource: r.base(req), ResourceName: "MCP gateway"})
	})
}

func (r *Resources) serve(w http.ResponseWriter, m metadata) {
	m.AuthorizationServers = r.AuthorizationServers
	m.ScopesSupported = r.ScopesSupported
	m.BearerMethodsSupported = []string{"header"}
	body, err := json.Marshal(m)
	if err != nil {
		http.Error(w, "encoding metadata", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	// Browser-based clients read it from another origin.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cache-Control", "max-age=300")
	_, _ = w.Write(body)
}
