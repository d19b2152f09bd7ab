// Package origin protects the MCP endpoint against DNS rebinding, which the
// streamable HTTP transport requires of every server: a web page under an
// attacker's name that the attacker then points at the gateway's address
// makes the victim's browser send requests that carry the attacker's name
// in Host and the attacker's page in Origin. Both are checked against the
// names the gateway is known by.
package origin

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Config lists the names the gateway answers to.
type Config struct {
	// PublicURLs are the gateway's canonical external URLs: their hosts
	// are accepted in Host and their origins in Origin.
	PublicURLs []*url.URL
	// Hosts are more host names accepted in Host (for example the
	// Service's DNS names), without port.
	Hosts []string
}

// Policy decides which Host and Origin headers may reach the endpoint.
//
// Host: an IP address (a browser sends the name it resolved, so a
// rebinding attack always carries a name, and an address is how the pod
// IP, the Service's ClusterIP and loopback are reached), localhost, or one
// of the configured names. The port is not compared: the attack works on
// any port. Origin, when sent: one whose host and port are the request's
// Host (a page the gateway itself served, under a Host that passed) or the
// origin of a public URL. "null" (a sandboxed or file page) never passes.
type Policy struct {
	hosts   map[string]bool
	origins map[string]bool
}

// New builds the policy of c.
func New(c Config) *Policy {
	p := &Policy{hosts: map[string]bool{"localhost": true}, origins: map[string]bool{}}
	for _, u := range c.PublicURLs {
		p.hosts[normalHost(u.Hostname())] = true
		p.origins[originOf(u.Scheme, u.Host)] = true
	}
	for _, h := range c.Hosts {
		if h = normalHost(h); h != "" {
			p.hosts[h] = true
		}
	}
	return p
}

// Check returns nil when r may pass, else why not (safe to show: it names
// only what the client sent).
func (p *Policy) Check(r *http.Request) error {
	if !p.hostAllowed(r.Host) {
		return fmt.Errorf("host %q is not a name of this gateway", r.Host)
	}
	o := r.Header.Get("Origin")
	if o == "" || p.originAllowed(o, r.Host) {
		return nil
	}
	return fmt.Errorf("origin %q may not use this gateway", o)
}

// Handler refuses a request that fails Check with 403, in the format write
// gives (JSON-RPC for MCP clients).
func (p *Policy) Handler(write func(w http.ResponseWriter, r *http.Request, status int, msg string), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := p.Check(r); err != nil {
			write(w, r, http.StatusForbidden, "Forbidden: "+err.Error())
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (p *Policy) hostAllowed(hostport string) bool {
	if hostport == "" {
		return true // HTTP/1.0 without Host: no browser sends that
	}
	h := normalHost(splitHost(hostport))
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	return p.hosts[h]
}

func (p *Policy) originAllowed(origin, requestHost string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
		return false
	}
	o := originOf(u.Scheme, u.Host)
	return p.origins[o] || o == originOf(u.Scheme, requestHost)
}

// originOf is scheme://host[:port] in lower case, without the scheme's
// default port, so equal origins compare equal.
func originOf(scheme, hostport string) string {
	scheme = strings.ToLower(scheme)
	host, port := splitHost(hostport), ""
	if _, p, err := net.SplitHostPort(hostport); err == nil {
		port = p
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	host = normalHost(host)
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}

// splitHost is the host of host[:port], without IPv6 brackets.
func splitHost(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}

func normalHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }
