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

// With returns ctx carrying c: only the authentication middleware calls it.
func With(ctx context.Context, c api.Caller) context.Context {
	return context.WithValue(ctx, key{}, c)
}

// From returns the authenticated caller of a request's context.
func From(ctx context.Context) (api.Caller, bool) {
	c, ok := ctx.Value(key{}).(api.Caller)
	return c, ok && c.User != ""
}

// Key is a stable map key of a caller: the same user with the same groups
// (in any order) is the same key, another user or group set another.
func Key(c api.Caller) string {
	groups := slices.Clone(c.Groups)
	slices.Sort(groups)
	user, gs := api.EncodeCaller(api.Caller{User: c.User, Groups: groups})
	return strings.Join([]string{user, gs}, "\n")
}
