package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestListsEverythingTheScenariosCall: a scenario whose tool or prompt is
// missing cannot pass, through any bridge.
func TestListsEverythingTheScenariosCall(t *testing.T) {
	t.Parallel()
	c := startServer(t, allCaps)
	var tools struct{ Tools []struct{ Name string } }
	require.NoError(t, json.Unmarshal(c.result(c.call("tools/list", `{}`)), &tools))
	var prompts struct{ Prompts []struct{ Name string } }
	require.NoError(t, json.Unmarshal(c.result(c.call("prompts/list", `{}`)), &prompts))
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
	}
	for _, p := range prompts.Prompts {
		names = append(names, "prompt "+p.Name)
	}
	for _, want := range []string{
		"test_simple_text", "test_image_content", "test_audio_content", "test_embedded_resource",
		"test_multiple_content_types", "test_tool_with_logging", "test_tool_with_progress", "test_error_handling",
		"test_sampling", "test_elicitation", "test_elicitation_sep1034_defaults", "test_elicitation_sep1330_enums",
		"test_reconnection", "json_schema_2020_12_tool", "test_x_mcp_header",
		"test_missing_capability", "test_streaming_elicitation", "test_logging_tool",
		"test_trigger_tool_change", "test_trigger_prompt_change",
		"test_input_required_result_elicitation", "test_input_required_result_sampling",
		"test_input_required_result_list_roots", "test_input_required_result_request_state",
		"test_input_required_result_multiple_inputs", "test_input_required_result_multi_round",
		"test_input_required_result_tampered_state", "test_input_required_result_capabilities",
		"prompt test_simple_prompt", "prompt test_prompt_with_arguments",
		"prompt test_prompt_with_embedded_resource", "prompt test_prompt_with_image",
		"prompt test_input_required_result_prompt",
	} {
		assert.Contains(t, names, want)
	}
}

// TestLogging: test_tool_with_logging logs only once a level is set (the
// legacy rule go-sdk applies), test_logging_tool always does.
func TestLogging(t *testing.T) {
	t.Parallel()
	c := startServer(t, `{}`)
	_, isError := c.toolText("test_tool_with_logging")
	require.False(t, isError)
	assert.Empty(t, c.drainNotes(), "logs before logging/setLevel")

	_, isError = c.toolText("test_logging_tool")
	require.False(t, isError)
	assert.Equal(t, []string{"notifications/message"}, methods(c.drainNotes()))

	c.result(c.call("logging/setLevel", `{"level":"debug"}`))
	_, isError = c.toolText("test_tool_with_logging")
	require.False(t, isError)
	assert.Equal(t, []string{"notifications/message", "notifications/message", "notifications/message"},
		methods(c.drainNotes()))
}

func TestProgress(t *testing.T) {
	t.Parallel()
	c := startServer(t, `{}`)
	c.result(c.call("tools/call", `{"name":"test_tool_with_progress","_meta":{"progressToken":"p-1"}}`))
	var got []float64
	for _, n := range c.drainNotes() {
		var p struct {
			ProgressToken string  `json:"progressToken"`
			Progress      float64 `json:"progress"`
		}
		require.NoError(t, json.Unmarshal(n.Params, &p))
		assert.Equal(t, "p-1", p.ProgressToken)
		got = append(got, p.Progress)
	}
	assert.Equal(t, []float64{0, 50, 100}, got)
}

// TestTriggers: each trigger toggles its transient entry and the client is
// told; the registrations at startup are not announced.
func TestTriggers(t *testing.T) {
	t.Parallel()
	c := startServer(t, `{}`)
	c.result(c.call("tools/list", `{}`))
	assert.Empty(t, c.drainNotes(), "list_changed without a change")

	for _, trigger := range []struct{ tool, list, entry string }{
		{"test_trigger_tool_change", "tools/list", transientTool},
		{"test_trigger_prompt_change", "prompts/list", transientPrompt},
	} {
		kind := trigger.list[:len(trigger.list)-len("/list")]
		for _, listed := range []bool{true, false} {
			_, isError := c.toolText(trigger.tool)
			require.False(t, isError)
			c.notification("notifications/" + kind + "/list_changed")
			assert.Equal(t, listed, containsName(t, c.result(c.call(trigger.list, `{}`)), trigger.entry),
				"%s listed after %s", trigger.entry, trigger.tool)
		}
	}
}

func TestWatchedResource(t *testing.T) {
	t.Parallel()
	c := startServer(t, `{}`, "-watch-interval", "20ms")
	c.result(c.call("resources/subscribe", `{"uri":"test://watched-resource"}`))
	n := c.notification("notifications/resources/updated")
	assert.JSONEq(t, `{"uri":"test://watched-resource"}`, string(n.Params))
	c.result(c.call("resources/unsubscribe", `{"uri":"test://watched-resource"}`))

	res := c.response(c.call("resources/subscribe", `{"uri":"test://nonexistent"}`))
	require.NotNil(t, res.Error)
	assert.Equal(t, -32002, res.Error.Code)
}

// TestLegacyToolsSendNoInputKey: the 2025-11-25 tools' requests carry no
// key, so a bridge has to invent one.
func TestLegacyToolsSendNoInputKey(t *testing.T) {
	t.Parallel()
	c := startServer(t, allCaps)
	pending := c.call("tools/call", `{"name":"test_sampling","arguments":{"prompt":"Say hi"}}`)
	req := c.serverRequest()
	assert.Equal(t, "sampling/createMessage", req.Method)
	var p requestParams
	require.NoError(t, json.Unmarshal(req.Params, &p))
	assert.NotContains(t, p.Meta, inputKeyMeta)
	c.answer(req, sampled("hi"))
	text, isError := contentText(t, c.result(pending))
	assert.False(t, isError)
	assert.Equal(t, "LLM response: hi", text)
}

func methods(ms []message) []string {
	var got []string
	for _, m := range ms {
		got = append(got, m.Method)
	}
	return got
}

func containsName(t *testing.T, list json.RawMessage, name string) bool {
	t.Helper()
	var res map[string][]struct{ Name string }
	require.NoError(t, json.Unmarshal(list, &res))
	for _, entries := range res {
		for _, e := range entries {
			if e.Name == name {
				return true
			}
		}
	}
	return false
}
