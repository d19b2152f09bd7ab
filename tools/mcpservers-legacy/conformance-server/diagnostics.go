package main

import (
	"context"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The diagnostic tools of the 2026-07-28 server-stateless scenario, done the
// legacy way; what the scenario checks on the 2026 wire is the bridge's work.
var (
	askStreaming     = elicitation{key: "stream_answer", message: "Continue the streamed call?", field: "answer", typ: "string"}
	askAlwaysSampled = sampling{key: "required_sampling", prompt: "Say anything", maxTokens: 10}
)

const (
	transientTool   = "test_transient_tool"
	transientPrompt = "test_transient_prompt"
)

func (s *server) addDiagnosticTools() {
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "test_missing_capability",
		Description: "Sends sampling/createMessage (input key required_sampling) whatever the client declared"}, missingCapability)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "test_streaming_elicitation",
		Description: "Reports progress, then elicits (input key stream_answer) during the call"}, streamingElicitation)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "test_logging_tool",
		Description: "Sends notifications/message during the call whether or not a log level was set"}, s.loggingTool)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "test_trigger_tool_change",
		Description: "Adds or removes " + transientTool + ": notifications/tools/list_changed follows"}, s.triggerToolChange)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "test_trigger_prompt_change",
		Description: "Adds or removes " + transientPrompt + ": notifications/prompts/list_changed follows"}, s.triggerPromptChange)
}

// missingCapability relies on sampling without looking at the client's
// capabilities: a bridge must answer -32021 to a 2026 request that did not
// declare it.
func missingCapability(ctx context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
	answer, err := askAlwaysSampled.ask(ctx, req.Session)
	if err != nil {
		return nil, nil, err
	}
	return text("Sampling answered: " + answer), nil, nil
}

func streamingElicitation(ctx context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
	if err := requireCaps(req.Session, capElicitation); err != nil {
		return nil, nil, err
	}
	if token := req.Params.GetProgressToken(); token != nil {
		err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
			ProgressToken: token, Progress: 1, Total: 2, Message: "asking the user",
		})
		if err != nil {
			return nil, nil, fmt.Errorf("notifying progress: %w", err)
		}
	}
	answer, err := askStreaming.ask(ctx, req.Session)
	if err != nil {
		return nil, nil, err
	}
	return text(fmt.Sprintf("Streaming elicitation answered: %v", answer)), nil, nil
}

// loggingTool logs although the client may have set no level: a legacy
// server may log before logging/setLevel, and a 2026 request without
// _meta logLevel must still see none, which is the bridge's to ensure.
func (s *server) loggingTool(ctx context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
	err := s.notify(ctx, req.Session, "notifications/message", &mcp.LoggingMessageParams{
		Level: "info", Logger: "conformance", Data: "test_logging_tool executed",
	})
	if err != nil {
		return nil, nil, fmt.Errorf("logging: %w", err)
	}
	return text("Logged one info message."), nil, nil
}

// triggerToolChange toggles a transient tool, so the list really changes;
// go-sdk then notifies every session of notifications/tools/list_changed.
func (s *server) triggerToolChange(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.toolsChanged.Store(true)
	s.toolOn = !s.toolOn
	if !s.toolOn {
		s.mcp.RemoveTools(transientTool)
		return text(transientTool + " removed: tools list changed"), nil, nil
	}
	mcp.AddTool(s.mcp, &mcp.Tool{Name: transientTool, Description: "Exists between two test_trigger_tool_change calls"},
		fixedContent([]mcp.Content{&mcp.TextContent{Text: "transient"}}))
	return text(transientTool + " added: tools list changed"), nil, nil
}

func (s *server) triggerPromptChange(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.promptsChanged.Store(true)
	s.promptOn = !s.promptOn
	if !s.promptOn {
		s.mcp.RemovePrompts(transientPrompt)
		return text(transientPrompt + " removed: prompts list changed"), nil, nil
	}
	s.mcp.AddPrompt(&mcp.Prompt{Name: transientPrompt, Description: "Exists between two test_trigger_prompt_change calls"},
		func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{
				{Role: "user", Content: &mcp.TextContent{Text: "transient"}},
			}}, nil
		})
	return text(transientPrompt + " added: prompts list changed"), nil, nil
}
