package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The input-required-result-* scenarios of 2026-07-28, legacy style: each
// tool sends its server-to-client request(s) during the call, named by
// params._meta[inputKeyMeta] with the inputRequests key the scenario checks,
// and completes from the answers. requestState and its integrity
// (request-state, tampered-state, multi-round) are the bridge's: a legacy
// server has no such thing.
var (
	askUserName = elicitation{key: "user_name", message: "What is your name?", field: "name", typ: "string"}
	askConfirm  = elicitation{key: "confirm", message: "Please confirm", field: "ok", typ: "boolean"}
	askStep1    = elicitation{key: "step1", message: "Step 1: What is your name?", field: "name", typ: "string"}
	askStep2    = elicitation{key: "step2", message: "Step 2: What is your favorite color?", field: "color", typ: "string"}
	askContext  = elicitation{key: "user_context", message: "What context should the prompt use?", field: "context", typ: "string"}
	askCapital  = sampling{key: "capital_question", prompt: "What is the capital of France?", maxTokens: 100}
	askGreeting = sampling{key: "greeting", prompt: "Generate a greeting", maxTokens: 50}
)

const rootsKey = "client_roots"

func (s *server) addInputTools() {
	tools := []struct {
		name, desc string
		h          noArgs
	}{
		{"test_input_required_result_elicitation", "Asks the user's name (elicitation/create, input key user_name)", inputElicitation},
		{"test_input_required_result_sampling", "Asks the client's LLM a question (sampling/createMessage, input key capital_question)", inputSampling},
		{"test_input_required_result_list_roots", "Asks for the client's roots (roots/list, input key client_roots)", inputListRoots},
		{"test_input_required_result_request_state", "Asks for a confirmation (elicitation/create, input key confirm)", inputConfirm("state-ok")},
		{"test_input_required_result_multiple_inputs", "Sends elicitation (user_name), sampling (greeting) and roots/list (client_roots) at once", inputMultiple},
		{"test_input_required_result_multi_round", "Asks two questions one after the other (elicitation/create, input keys step1 then step2)", inputMultiRound},
		{"test_input_required_result_tampered_state", "Asks for a confirmation (elicitation/create, input key confirm)", inputConfirm("confirmed")},
		{"test_input_required_result_capabilities", "Sends only the requests the client's capabilities allow (user_name, greeting, client_roots)", inputByCapabilities},
	}
	for _, t := range tools {
		mcp.AddTool(s.mcp, &mcp.Tool{Name: t.name, Description: t.desc}, t.h)
	}
	s.mcp.AddPrompt(&mcp.Prompt{
		Name:        "test_input_required_result_prompt",
		Description: "Asks what context the prompt should use (elicitation/create, input key user_context) while getting it",
	}, inputPrompt)
}

func inputElicitation(ctx context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
	if err := requireCaps(req.Session, capElicitation); err != nil {
		return nil, nil, err
	}
	name, err := askUserName.ask(ctx, req.Session)
	if err != nil {
		return nil, nil, err
	}
	return text(fmt.Sprintf("Hello, %s!", name)), nil, nil
}

func inputSampling(ctx context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
	if err := requireCaps(req.Session, capSampling); err != nil {
		return nil, nil, err
	}
	answer, err := askCapital.ask(ctx, req.Session)
	if err != nil {
		return nil, nil, err
	}
	return text("Sampling response: " + answer), nil, nil
}

func inputListRoots(ctx context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
	if err := requireCaps(req.Session, capRoots); err != nil {
		return nil, nil, err
	}
	roots, err := askRoots(ctx, req.Session, rootsKey)
	if err != nil {
		return nil, nil, err
	}
	return text("Client roots: " + describeRoots(roots)), nil, nil
}

// inputConfirm asks for a boolean confirmation and reports it after word.
func inputConfirm(word string) noArgs {
	return func(ctx context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
		if err := requireCaps(req.Session, capElicitation); err != nil {
			return nil, nil, err
		}
		ok, err := askConfirm.ask(ctx, req.Session)
		if err != nil {
			return nil, nil, err
		}
		return text(fmt.Sprintf("%s: confirmation received (ok=%v)", word, ok)), nil, nil
	}
}

// inputMultiple sends its three requests before awaiting any answer.
func inputMultiple(ctx context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
	ss := req.Session
	if err := requireCaps(ss, capElicitation, capSampling, capRoots); err != nil {
		return nil, nil, err
	}
	var (
		name     any
		greeting string
		roots    []*mcp.Root
	)
	err := concurrently(ctx,
		func(ctx context.Context) (err error) { name, err = askUserName.ask(ctx, ss); return err },
		func(ctx context.Context) (err error) { greeting, err = askGreeting.ask(ctx, ss); return err },
		func(ctx context.Context) (err error) { roots, err = askRoots(ctx, ss, rootsKey); return err },
	)
	if err != nil {
		return nil, nil, err
	}
	return text(fmt.Sprintf("Name: %s; greeting: %s; roots: %s", name, greeting, describeRoots(roots))), nil, nil
}

// inputMultiRound asks step2 only once step1 is answered.
func inputMultiRound(ctx context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
	if err := requireCaps(req.Session, capElicitation); err != nil {
		return nil, nil, err
	}
	name, err := askStep1.ask(ctx, req.Session)
	if err != nil {
		return nil, nil, err
	}
	color, err := askStep2.ask(ctx, req.Session)
	if err != nil {
		return nil, nil, err
	}
	return text(fmt.Sprintf("%s's favorite color is %s.", name, color)), nil, nil
}

// inputByCapabilities sends, at once, one request per capability the client
// declared at initialize, and none for the others.
func inputByCapabilities(ctx context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
	ss := req.Session
	var (
		mu   sync.Mutex
		got  []string
		asks []func(context.Context) error
	)
	record := func(format string, v any) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, fmt.Sprintf(format, v))
	}
	if declared(ss, capElicitation) {
		asks = append(asks, func(ctx context.Context) error {
			name, err := askUserName.ask(ctx, ss)
			record("name=%v", name)
			return err
		})
	}
	if declared(ss, capSampling) {
		asks = append(asks, func(ctx context.Context) error {
			greeting, err := askGreeting.ask(ctx, ss)
			record("greeting=%s", greeting)
			return err
		})
	}
	if declared(ss, capRoots) {
		asks = append(asks, func(ctx context.Context) error {
			roots, err := askRoots(ctx, ss, rootsKey)
			record("roots=%s", describeRoots(roots))
			return err
		})
	}
	if len(asks) == 0 {
		return text("The client declared no capability to ask it anything with."), nil, nil
	}
	if err := concurrently(ctx, asks...); err != nil {
		return nil, nil, err
	}
	slices.Sort(got)
	return text("Answers for the declared capabilities: " + strings.Join(got, "; ")), nil, nil
}

func inputPrompt(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	if err := requireCaps(req.Session, capElicitation); err != nil {
		return nil, err
	}
	v, err := askContext.ask(ctx, req.Session)
	if err != nil {
		return nil, err
	}
	return &mcp.GetPromptResult{
		Description: "A prompt built from elicited context",
		Messages: []*mcp.PromptMessage{
			{Role: "user", Content: &mcp.TextContent{Text: fmt.Sprintf("Context: %s", v)}},
		},
	}, nil
}

func describeRoots(roots []*mcp.Root) string {
	if len(roots) == 0 {
		return "none"
	}
	parts := make([]string, len(roots))
	for i, r := range roots {
		parts[i] = r.URI
		if r.Name != "" {
			parts[i] += " (" + r.Name + ")"
		}
	}
	return strings.Join(parts, ", ")
}
