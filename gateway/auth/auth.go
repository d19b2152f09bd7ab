// Package auth authenticates gateway callers by bearer token and
// authorizes them per server. The gateway is an OAuth 2.1 resource server
// in the sense of the MCP authorization spec: a caller's token goes through
// a chain of authenticators (OIDC/JWT issuers verified locally, the
// cluster's ServiceAccount issuer, TokenReview, static tokens), each
// mapping it to a user, and the user is authorized with a
// SubjectAccessReview on the virtual resource servers.mcp.archestra.io (or
// the static tokens' own grants), so Kubernetes RBAC decides.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// ErrUnauthenticated means the token is missing, malformed or not valid.
// Errors that wrap it with a reason are *TokenError.
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrUnknownToken is what an Authenticator returns for a token that is not
// its own (another issuer's, not a JWT, not in its file): the chain then
// asks the next one.
var ErrUnknownToken = errors.New("token not known to this authenticator")

// TokenError is a refused token, with a reason safe to show the caller and
// to log: it never contains the token or a claim value the caller did not
// choose.
type TokenError struct{ Reason string }

func (e *TokenError) Error() string { return "invalid token: " + e.Reason }

// Is makes errors.Is(err, ErrUnauthenticated) true.
func (e *TokenError) Is(target error) bool { return target == ErrUnauthenticated }

func refused(format string, args ...any) error {
	return &TokenError{Reason: fmt.Sprintf(format, args...)}
}

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

// Target is what a token is presented for: the canonical URLs (RFC 8707
// resource identifiers) of the resource being called, one per public URL
// of the gateway. A token's audience must name one of them, or one of the
// gateway-wide audiences of the authenticator that verifies it.
type Target struct {
	Resources []string
}

// User is an authenticated caller.
type User struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
	// Scopes are the OAuth scopes of the access token; OAuth says whether
	// the token came from an OAuth authorization server, so that scopes
	// apply to it (ServiceAccount and static tokens carry none).
	Scopes []string
	OAuth  bool
	// Via names the authenticator that accepted the token, for logs.
	Via string

	decider Decider // set by the Chain: who decides for this user
}

// Authenticator maps a bearer token to a user for target. It returns
// ErrUnknownToken (possibly wrapped) for a token that is not its own, a
// *TokenError for one it refuses, or another error when the check itself
// failed (the caller gets 503).
type Authenticator interface {
	AuthenticateToken(ctx context.Context, token string, target Target) (*User, error)
}

// Decider reports whether an authenticated user may do a.
type Decider interface {
	Decide(ctx context.Context, u *User, a Attributes) (bool, error)
}

// Authorizer is what the Guard applies: Authenticate maps a bearer token
// ("" if none was sent) to its user or returns an error that wraps
// ErrUnauthenticated (or another when the check itself failed); Authorize
// reports whether the user may do a.
type Authorizer interface {
	Authenticate(ctx context.Context, token string, target Target) (*User, error)
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

// None lets everyone do everything. For local development only.
type None struct{}

// Authenticate implements Authorizer.
func (None) Authenticate(context.Context, string, Target) (*User, error) {
	return &User{Name: "system:anonymous", Via: "none"}, nil
}

// Authorize implements Authorizer.
func (None) Authorize(context.Context, *User, Attributes) (bool, error) { return true, nil }
