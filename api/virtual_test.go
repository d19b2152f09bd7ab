package api_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

func TestVirtualNames(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "gh__create_issue", api.VirtualName("gh", "create_issue"))
	assert.Equal(t, "create_issue", api.VirtualName("", "create_issue"))
	for name, want := range map[string][2]string{
		"gh__create_issue": {"gh", "create_issue"},
		"gh__a__b":         {"gh", "a__b"},
		"gh____x":          {"gh", "__x"},
	} {
		p, rest, ok := api.SplitVirtualName(name)
		assert.True(t, ok, name)
		assert.Equal(t, want, [2]string{p, rest}, name)
	}
	for _, bad := range []string{"gh", "__x", "gh__", "g_h__x", ""} {
		_, _, ok := api.SplitVirtualName(bad)
		assert.False(t, ok, bad)
	}
}

func TestMatchVirtualResources(t *testing.T) {
	t.Parallel()
	patterns := &[]string{"file:///project/*", "demo://one"}
	for uri, want := range map[string]bool{
		"file:///project/a.txt": true, "file:///project/": true, "file:///other": false,
		"demo://one": true, "demo://one/two": false,
	} {
		assert.Equal(t, want, api.MatchVirtualResource(patterns, uri), uri)
	}
	assert.True(t, api.MatchVirtualResource(nil, "anything"), "no list: everything")
	assert.False(t, api.MatchVirtualResource(&[]string{}, "anything"), "an empty list: nothing")
	for tmpl, want := range map[string]bool{
		"file:///project/{path}": true, "file:///{path}": false, "demo://one": true, "demo://{x}": false,
	} {
		assert.Equal(t, want, api.MatchVirtualTemplate(patterns, tmpl), tmpl)
	}
}
