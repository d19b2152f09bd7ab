// Package auth authenticates gateway callers by bearer token and
// authorizes them per server, in one of three modes: kubernetes
// (TokenReview + SubjectAccessReview on the virtual resource
// servers.mcp.archestra.io), tokens (a file of hashed static tokens) and
// none (local development).
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// ErrUnauthenticated means the token is missing, malformed or not valid.
var ErrUnauthenticated = errors.New("unauthenticated")

// Attributes is what a request asks to do. Namespace "" with api.VerbList is
// the cluster-wide list.
type Attributes struct {
	Verb        string
	Namespace   string
	Name        string
	Subresource string
}

func (a Attributes) String() string {
	res := api.RBACResource
	if a.Subresource != "" {
		res += "/" + a.Subresource
	}
	s := fmt.Sprintf("%s %s.%s", a.Verb, res, api.RBACGroup)
	if a.Name != "" {
		s += " " + a.Name
	}
	if a.Namespace != "" {
		s += " in namespace " + a.Namespace
	}
	return s
}

// User is an authenticated caller.
type User struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// Authorizer is one auth mode.
type Authorizer interface {
	// Authenticate maps a bearer token ("" if none was sent) to its user,
	// or returns ErrUnauthenticated (or another error when the check
	// itself failed).
	Authenticate(ctx context.Context, token string) (*User, error)
	// Authorize reports whether user may do a.
	Authorize(ctx context.Context, user *User, a Attributes) (bool, error)
}

// BearerToken returns the token of an "Authorization: Bearer" header.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// Denial is reported to the Observer for metrics.
type Denial string

// Reasons a request is refused.
const (
	DenyUnauthenticated Denial = "unauthenticated"
	DenyForbidden       Denial = "forbidden"
	DenyError           Denial = "error"
)

// ErrorWriter writes a refusal in the format of the API being protected
// (JSON-RPC for MCP, plain JSON for the operator API).
type ErrorWriter func(w http.ResponseWriter, r *http.Request, status int, msg string)

// Guard applies an Authorizer to HTTP handlers.
type Guard struct {
	Auth   Authorizer
	Log    *slog.Logger
	Denied func(Denial) // may be nil
}

type userKey struct{}

// UserFrom returns the user a Guard let through.
func UserFrom(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}

// Check authenticates r and authorizes a. When it returns false it has
// written the refusal (401 with WWW-Authenticate, 403, or 503).
func (g *Guard) Check(w http.ResponseWriter, r *http.Request, a Attributes, write ErrorWriter) (*http.Request, bool) {
	user, err := g.Auth.Authenticate(r.Context(), BearerToken(r))
	if err != nil {
		if errors.Is(err, ErrUnauthenticated) {
			g.deny(DenyUnauthenticated)
			w.Header().Set("WWW-Authenticate", `Bearer realm="mcp-gateway"`)
			write(w, r, http.StatusUnauthorized, "a valid bearer token is required")
			return r, false
		}
		g.deny(DenyError)
		g.Log.Error("authentication failed", "error", err.Error())
		w.Header().Set("Retry-After", "1")
		write(w, r, http.StatusServiceUnavailable, "authentication is unavailable, try again")
		return r, false
	}
	ok, err := g.Auth.Authorize(r.Context(), user, a)
	if err != nil {
		g.deny(DenyError)
		g.Log.Error("authorization failed", "user", user.Name, "error", err.Error())
		w.Header().Set("Retry-After", "1")
		write(w, r, http.StatusServiceUnavailable, "authorization is unavailable, try again")
		return r, false
	}
	if !ok {
		g.deny(DenyForbidden)
		g.Log.Info("request forbidden", "user", user.Name, "attributes", a.String())
		write(w, r, http.StatusForbidden, fmt.Sprintf("user %q may not %s", user.Name, a.String()))
		return r, false
	}
	return r.WithContext(context.WithValue(r.Context(), userKey{}, user)), true
}

func (g *Guard) deny(d Denial) {
	if g.Denied != nil {
		g.Denied(d)
	}
}

// Handler protects next with the attributes attrs derives from a request.
func (g *Guard) Handler(attrs func(*http.Request) Attributes, write ErrorWriter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, ok := g.Check(w, r, attrs(r), write)
		if ok {
			next.ServeHTTP(w, r)
		}
	})
}

// None lets everyone do everything. For local development only.
type None struct{}

// Authenticate implements Authorizer.
func (None) Authenticate(context.Context, string) (*User, error) {
	return &User{Name: "system:anonymous"}, nil
}

// Authorize implements Authorizer.
func (None) Authorize(context.Context, *User, Attributes) (bool, error) { return true, nil }
