package main

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	allCaps   = `{"sampling":{},"elicitation":{},"roots":{"listChanged":true}}`
	rootsJSON = `{"roots":[{"uri":"file:///test/root","name":"Test Root"}]}`
)

func accept(content string) string { return `{"action":"accept","content":` + content + `}` }

func sampled(text string) string {
	return fmt.Sprintf(`{"role":"assistant","content":{"type":"text","text":%q},"model":"test-model","stopReason":"endTurn"}`, text)
}

// ask is one server-to-client request a call must send and the answer to it.
type ask struct{ method, answer string }

// round is the requests a call has outstanding at once, by input key.
type round map[string]ask

// requestParams is what the tests read of a server-to-client request.
type requestParams struct {
	Meta map[string]any `json:"_meta"`
}

// TestInputRequests calls every tool (and the prompt) that asks the client
// something, as a bridge would see it over stdio: each round's requests
// must all be outstanding together, carry the input key in
// _meta["io.archestra.mcp/inputKey"] with the right method, and the call
// completes from the answers.
func TestInputRequests(t *testing.T) {
	t.Parallel()
	elicitName := ask{"elicitation/create", accept(`{"name":"Alice"}`)}
	greeting := ask{"sampling/createMessage", sampled("Hello there!")}
	roots := ask{"roots/list", rootsJSON}
	tests := []struct {
		name, caps string
		method     string // tools/call by default
		rounds     []round
		want       []string // substrings of the result's text
	}{
		{name: "test_input_required_result_elicitation", rounds: []round{{"user_name": elicitName}},
			want: []string{"Hello, Alice!"}},
		{name: "test_input_required_result_sampling",
			rounds: []round{{"capital_question": {"sampling/createMessage", sampled("The capital of France is Paris.")}}},
			want:   []string{"The capital of France is Paris."}},
		{name: "test_input_required_result_list_roots", rounds: []round{{"client_roots": roots}},
			want: []string{"file:///test/root"}},
		{name: "test_input_required_result_request_state",
			rounds: []round{{"confirm": {"elicitation/create", accept(`{"ok":true}`)}}}, want: []string{"state-ok"}},
		{name: "test_input_required_result_multiple_inputs",
			rounds: []round{{"user_name": elicitName, "greeting": greeting, "client_roots": roots}},
			want:   []string{"Alice", "Hello there!", "file:///test/root"}},
		{name: "test_input_required_result_multi_round", rounds: []round{
			{"step1": elicitName},
			{"step2": {"elicitation/create", accept(`{"color":"blue"}`)}},
		}, want: []string{"Alice's favorite color is blue."}},
		{name: "test_input_required_result_tampered_state",
			rounds: []round{{"confirm": {"elicitation/create", accept(`{"ok":true}`)}}}, want: []string{"confirmed"}},
		{name: "test_input_required_result_capabilities",
			rounds: []round{{"user_name": elicitName, "greeting": greeting, "client_roots": roots}},
			want:   []string{"name=Alice", "greeting=Hello there!", "roots=file:///test/root"}},
		{name: "test_input_required_result_capabilities", caps: `{"sampling":{}}`,
			rounds: []round{{"greeting": greeting}}, want: []string{"greeting=Hello there!"}},
		{name: "test_input_required_result_capabilities", caps: `{"roots":{}}`,
			rounds: []round{{"client_roots": roots}}, want: []string{"roots=file:///test/root"}},
		{name: "test_input_required_result_capabilities", caps: `{}`, want: []string{"no capability"}},
		{name: "test_missing_capability", caps: `{}`,
			rounds: []round{{"required_sampling": {"sampling/createMessage", sampled("anything")}}},
			want:   []string{"anything"}},
		{name: "test_streaming_elicitation", caps: `{"elicitation":{}}`,
			rounds: []round{{"stream_answer": {"elicitation/create", accept(`{"answer":"yes"}`)}}},
			want:   []string{"answered: yes"}},
		{name: "test_input_required_result_prompt", method: "prompts/get",
			rounds: []round{{"user_context": {"elicitation/create", accept(`{"context":"test context"}`)}}},
			want:   []string{"Context: test context"}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.caps, func(t *testing.T) {
			t.Parallel()
			caps, method := tt.caps, tt.method
			if caps == "" {
				caps = allCaps
			}
			if method == "" {
				method = "tools/call"
			}
			c := startServer(t, caps)
			pending := c.call(method, fmt.Sprintf(`{"name":%q,"arguments":{}}`, tt.name))
			answered := 0
			for i, r := range tt.rounds {
				reqs := receiveRound(t, c, r)
				for key, req := range reqs {
					assert.GreaterOrEqual(t, req.answered, int64(answered),
						"round %d's %s was sent before the previous round was answered", i+1, key)
				}
				for key, req := range reqs {
					c.answer(req, r[key].answer)
				}
				answered += len(r)
			}
			got := resultText(t, method, c.result(pending))
			for _, w := range tt.want {
				assert.Contains(t, got, w)
			}
			assert.Empty(t, c.requests, "requests the test did not expect")
		})
	}
}

// receiveRound receives len(r) requests before answering any, so a server
// that awaited each answer before sending the next request fails here.
func receiveRound(t *testing.T, c *rawClient, r round) map[string]message {
	t.Helper()
	got := map[string]message{}
	for range r {
		req := c.serverRequest()
		var p requestParams
		require.NoError(t, json.Unmarshal(req.Params, &p))
		key, _ := p.Meta[inputKeyMeta].(string)
		want, ok := r[key]
		require.True(t, ok, "request %s has input key %q, want one of %v", req.Method, key, keys(r))
		require.Equal(t, want.method, req.Method, "method of input key %q", key)
		require.NotContains(t, got, key, "input key %q sent twice", key)
		got[key] = req
	}
	return got
}

func keys(r round) []string {
	var ks []string
	for k := range r {
		ks = append(ks, k)
	}
	return ks
}

func resultText(t *testing.T, method string, result json.RawMessage) string {
	t.Helper()
	if method == "tools/call" {
		text, isError := contentText(t, result)
		require.False(t, isError, "tool error: %s", text)
		return text
	}
	var res struct {
		Messages []struct {
			Content struct{ Text string } `json:"content"`
		} `json:"messages"`
	}
	require.NoError(t, json.Unmarshal(result, &res))
	require.NotEmpty(t, res.Messages)
	return res.Messages[0].Content.Text
}

// TestInputRequestsBadAnswers: an answer without the result's shape fails
// the call with -32602, the client's own error goes back as it is, a
// declined elicitation or an undeclared capability is a tool error.
func TestInputRequestsBadAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, tool, caps string
		answer           string // result JSON; "" means no request is expected
		answerError      string // error JSON instead of a result
		wantCode         int    // JSON-RPC error code; 0: a tool error
	}{
		{name: "number instead of an ElicitResult", tool: "test_input_required_result_elicitation",
			answer: `12345`, wantCode: -32602},
		{name: "content of the wrong type", tool: "test_input_required_result_elicitation",
			answer: accept(`{"name":5}`), wantCode: -32602},
		{name: "content without the field", tool: "test_input_required_result_multi_round",
			answer: accept(`{}`), wantCode: -32602},
		{name: "sampling answered with an image", tool: "test_input_required_result_sampling",
			answer:   `{"role":"assistant","content":{"type":"image","data":"AA==","mimeType":"image/png"},"model":"m"}`,
			wantCode: -32602},
		{name: "roots without roots", tool: "test_input_required_result_list_roots", answer: `{}`, wantCode: -32602},
		{name: "client error passes through", tool: "test_input_required_result_elicitation",
			answerError: `{"code":-32021,"message":"missing capability"}`, wantCode: -32021},
		{name: "declined", tool: "test_input_required_result_elicitation", answer: `{"action":"decline"}`},
		{name: "capability not declared", tool: "test_input_required_result_elicitation", caps: `{"sampling":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			caps := tt.caps
			if caps == "" {
				caps = allCaps
			}
			c := startServer(t, caps)
			pending := c.call("tools/call", fmt.Sprintf(`{"name":%q}`, tt.tool))
			switch {
			case tt.answerError != "":
				req := c.serverRequest()
				c.written.Add(1)
				c.write(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"error":%s}`, req.ID, tt.answerError))
			case tt.answer != "":
				c.answer(c.serverRequest(), tt.answer)
			}
			res := c.response(pending)
			if tt.wantCode != 0 {
				require.NotNil(t, res.Error, "want a JSON-RPC error, got %s", res.Result)
				assert.Equal(t, tt.wantCode, res.Error.Code, res.Error.Message)
				return
			}
			require.Nil(t, res.Error)
			_, isError := contentText(t, res.Result)
			assert.True(t, isError, "want a tool error, got %s", res.Result)
			assert.Empty(t, c.requests)
		})
	}
}
