package virtual_test

import (
	"context"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
)

const twoMembers = `
title: Test toolbox
members:
- server: alpha
  tools: [echo, {name: whoami, as: who}]
- server: beta
  prefix: b
`

func toolNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	require.NoError(t, err)
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	return names
}

func TestMergedListsAndCalls(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 2*time.Second)
	h.member(mcptest.NewStatelessBackend(t, "alpha", false), "ns", "alpha", nil)
	h.member(mcptest.NewStatelessBackend(t, "beta", false), "ns", "beta", map[string]string{api.PodAnnAllowedTools: "echo,whoami"})
	h.define("ns", "toolbox", "toolbox", twoMembers)
	for _, era := range []struct {
		name   string
		legacy bool
	}{{"2026-07-28", false}, {"2025-11-25", true}} {
		t.Run(era.name, func(t *testing.T) {
			t.Parallel()
			cs := h.connect("ns", "toolbox", era.legacy, nil)
			if era.legacy {
				assert.NotEmpty(t, cs.ID(), "a legacy session")
			} else {
				assert.Empty(t, cs.ID(), "2026-07-28: no session")
			}
			assert.Equal(t, []string{"alpha__echo", "alpha__who", "b__echo", "b__whoami"}, toolNames(t, cs),
				"definition order, each member's own; beta's allowed-tools hold")
			ctx := context.Background()
			got, err := mcptest.Call(ctx, cs, "alpha__echo", map[string]any{"text": "hi"})
			require.NoError(t, err)
			assert.Equal(t, "alpha: hi", got)
			got, err = mcptest.Call(ctx, cs, "alpha__who", nil)
			require.NoError(t, err)
			assert.Equal(t, "alpha", got)
			got, err = mcptest.Call(ctx, cs, "b__whoami", nil)
			require.NoError(t, err)
			assert.Equal(t, "beta", got)
			for _, refused := range []string{"alpha__secret", "alpha__whoami", "b__secret", "gamma__echo", "echo"} {
				_, err = mcptest.Call(ctx, cs, refused, nil)
				assert.Error(t, err, refused)
			}
		})
	}
}
