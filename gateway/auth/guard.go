package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
)

// Denial is reported to the Observer for metrics.
type Denial string

// Reasons a request is refused.
const (
	DenyUnauthenticated Denial = "unauthenticated"
	DenyForbidden       Denial = "forbidden"
	DenyScope           Denial = "insufficient_scope"
	DenyError           Denial = "error"
)

// ErrorWriter writes a refusal in the format of the API being protected
// (JSON-RPC for MCP, plain JSON for the operator API).
type ErrorWriter func(w http.ResponseWriter, r *http.Request, status int, msg string)

// Guard applies an Authorizer to HTTP handlers, answering as an OAuth 2.1
// resource server (RFC 6750, RFC 9728): 401 with a Bearer challenge that
// points at the resource's metadata, 403 insufficient_scope when a required
// scope is missing, 403 naming what RBAC refused.
type Guard struct {
	Auth   Authorizer
	Log    *slog.Logger
	Denied func(Denial) // may be nil
	// Resources, when set, makes targets and challenges name the resource
	// (--public-url); without it tokens are checked for the gateway-wide
	// audiences only and challenges carry no metadata URL.
	Resources *Resources
	// RequiredScopes must all be in an OAuth access token's scope.
	RequiredScopes []string
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
	token := BearerToken(r)
	user, err := g.Auth.Authenticate(r.Context(), token, g.Resources.Target(a))
	if err != nil {
		g.unauthenticated(w, r, a, token != "", err, write)
		return r, false
	}
	if missing := g.missingScopes(user); len(missing) > 0 {
		g.deny(DenyScope)
		g.Log.Info("request refused: insufficient scope", "user", user.Name, "via", user.Via, "missing", strings.Join(missing, " "))
		msg := fmt.Sprintf("the token lacks the scope %s", strings.Join(missing, " "))
		w.Header().Set("WWW-Authenticate", g.challenge(r, a, "insufficient_scope", msg))
		write(w, r, http.StatusForbidden, msg)
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
		g.Log.Info("request forbidden", "user", user.Name, "groups", user.Groups, "via", user.Via, "attributes", a.String())
		write(w, r, http.StatusForbidden, forbidden(user, a))
		return r, false
	}
	return r.WithContext(context.WithValue(r.Context(), userKey{}, user)), true
}

// forbidden says who was refused what, then the groups, since a missing
// group is the usual cause with an identity provider. The beginning is
// what it always was: clients match on it.
func forbidden(u *User, a Attributes) string {
	msg := fmt.Sprintf("user %q may not %s", u.Name, a.String())
	if groups := slices.DeleteFunc(slices.Clone(u.Groups), func(g string) bool { return g == "system:authenticated" }); len(groups) > 0 {
		msg += fmt.Sprintf(" (groups %q)", groups)
	}
	return msg
}

func (g *Guard) unauthenticated(w http.ResponseWriter, r *http.Request, a Attributes, sent bool, err error, write ErrorWriter) {
	if !errors.Is(err, ErrUnauthenticated) {
		g.deny(DenyError)
		g.Log.Error("authentication failed", "error", err.Error())
		w.Header().Set("Retry-After", "1")
		write(w, r, http.StatusServiceUnavailable, "authentication is unavailable, try again")
		return
	}
	g.deny(DenyUnauthenticated)
	msg := "a valid bearer token is required"
	// RFC 6750 section 3.1: no error code when no token was sent.
	code, reason := "", ""
	if sent {
		code, reason = "invalid_token", "the token is not valid"
		var te *TokenError
		if errors.As(err, &te) {
			reason = te.Reason
		}
		msg += ": " + reason
		g.Log.Info("token refused", "reason", reason, "path", r.URL.Path)
	}
	w.Header().Set("WWW-Authenticate", g.challenge(r, a, code, reason))
	write(w, r, http.StatusUnauthorized, msg)
}

// challenge is the Bearer challenge of RFC 6750 with RFC 9728's
// resource_metadata and the scopes to ask for.
func (g *Guard) challenge(r *http.Request, a Attributes, code, desc string) string {
	params := []string{`realm="mcp-gateway"`}
	if code != "" {
		params = append(params, "error="+quote(code), "error_description="+quote(desc))
	}
	if len(g.RequiredScopes) > 0 {
		params = append(params, "scope="+quote(strings.Join(g.RequiredScopes, " ")))
	}
	if g.Resources.advertised() {
		params = append(params, "resource_metadata="+quote(g.Resources.MetadataURL(r, a)))
	}
	return "Bearer " + strings.Join(params, ", ")
}

// quote makes an RFC 7230 quoted-string; the values here are ours and
// printable, but a reason may quote a claim name.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < 0x20 || c == 0x7f || c > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// missingScopes are the required scopes an OAuth token lacks.
func (g *Guard) missingScopes(u *User) []string {
	if !u.OAuth {
		return nil
	}
	var missing []string
	for _, s := range g.RequiredScopes {
		if !slices.Contains(u.Scopes, s) {
			missing = append(missing, s)
		}
	}
	return missing
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
