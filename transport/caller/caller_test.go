package caller_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/transport/caller"
)

func TestFrom(t *testing.T) {
	t.Parallel()
	_, ok := caller.From(context.Background())
	assert.False(t, ok, "no caller without the middleware")
	_, ok = caller.From(caller.With(context.Background(), api.Caller{}))
	assert.False(t, ok, "an empty user is no caller")
	c := api.Caller{User: "alice", Groups: []string{"dev"}}
	got, ok := caller.From(caller.With(context.Background(), c))
	assert.True(t, ok)
	assert.Equal(t, c, got)
}

func TestKey(t *testing.T) {
	t.Parallel()
	a := caller.Key(api.Caller{User: "alice", Groups: []string{"b", "a"}})
	assert.Equal(t, a, caller.Key(api.Caller{User: "alice", Groups: []string{"a", "b"}}), "group order does not matter")
	assert.NotEqual(t, a, caller.Key(api.Caller{User: "alice", Groups: []string{"a"}}))
	assert.NotEqual(t, a, caller.Key(api.Caller{User: "alice,b", Groups: []string{"a"}}), "no separator confusion")
	assert.NotEqual(t, caller.Key(api.Caller{User: "a\nb"}), caller.Key(api.Caller{User: "a", Groups: []string{"b"}}))
}
