// Package caller tells the rest of the sidecar who called: the user and
// groups the gateway authenticated, as it stated them on a connection that
// presented its client certificate (transport/gatewayauth puts them here,
// and nowhere else can). Per-caller processes, logs and metrics read them
// with From; a request without a caller (no gateway in front, local runs)
// has none.
package caller

import (
	"context"
	"slices"
	"strings"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

type key struct{}

// Identity is a caller with its Key, worked out once: the authentication
// middleware keeps one per connection for as long as the gateway states
// the same caller on it, instead of parsing and keying it per request.
type Identity struct {
	caller api.Caller
	key    string
}

// NewIdentity is c with its key.
func NewIdentity(c api.Caller) *Identity { return &Identity{caller: c, key: Key(c)} }

// With returns ctx carrying c: only the authentication middleware calls it.
func With(ctx context.Context, c api.Caller) context.Context {
	return WithIdentity(ctx, NewIdentity(c))
}

// WithIdentity is With for a caller already keyed.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// From returns the authenticated caller of a request's context.
func From(ctx context.Context) (api.Caller, bool) {
	id, ok := ctx.Value(key{}).(*Identity)
	if !ok || id.caller.User == "" {
		return api.Caller{}, false
	}
	return id.caller, true
}

// KeyFrom is the Key of the request's caller, without computing it again.
func KeyFrom(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(key{}).(*Identity)
	if !ok || id.caller.User == "" {
		return "", false
	}
	return id.key, true
}

// Key is a stable map key of a caller: the same user with the same groups
// (in any order) is the same key, another user or group set another.
func Key(c api.Caller) string {
	groups := slices.Clone(c.Groups)
	slices.Sort(groups)
	user, gs := api.EncodeCaller(api.Caller{User: c.User, Groups: groups})
	return strings.Join([]string{user, gs}, "\n")
}
