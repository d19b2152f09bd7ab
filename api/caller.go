package api

import (
	"fmt"
	"net/url"
	"strings"
)

// Headers on the gateway-to-sidecar hop that carry who the caller is (never
// the token). The gateway removes any a client sent and sets its own on
// every upstream request; the sidecar trusts them only on a connection that
// presented the gateway's client certificate, and removes them otherwise.
const (
	HeaderCallerUser   = "Mcp-Orchestrator-Caller"
	HeaderCallerGroups = "Mcp-Orchestrator-Caller-Groups"
)

// Caller is the authenticated caller as the gateway states it.
type Caller struct {
	User   string
	Groups []string
}

// EncodeCaller returns the values of HeaderCallerUser and HeaderCallerGroups.
// Names may hold any character (OIDC claims do): bytes outside printable
// ASCII, '%' and ',' (the groups separator) are percent-encoded, so
// "system:serviceaccount:ns:name" stays readable. Empty group names are
// left out: they could not be told from no groups.
func EncodeCaller(c Caller) (user, groups string) {
	gs := make([]string, 0, len(c.Groups))
	for _, g := range c.Groups {
		if g != "" {
			gs = append(gs, escapeName(g))
		}
	}
	return escapeName(c.User), strings.Join(gs, ",")
}

// ParseCaller reads the two header values EncodeCaller wrote. An empty
// user is no caller; a malformed escape is an error.
func ParseCaller(user, groups string) (Caller, error) {
	u, err := url.PathUnescape(user)
	if err != nil {
		return Caller{}, fmt.Errorf("header %s: %w", HeaderCallerUser, err)
	}
	c := Caller{User: u}
	if groups == "" {
		return c, nil
	}
	for _, g := range strings.Split(groups, ",") {
		v, err := url.PathUnescape(g)
		if err != nil {
			return Caller{}, fmt.Errorf("header %s: %w", HeaderCallerGroups, err)
		}
		c.Groups = append(c.Groups, v)
	}
	return c, nil
}

func escapeName(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '%' || c == ',' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
