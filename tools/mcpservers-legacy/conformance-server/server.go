package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// server is the MCP server and the little state its tools share.
type server struct {
	mcp *mcp.Server
	// send is the SDK's own sender, captured by a sending middleware: it
	// sends any notification as it is, which is how test_logging_tool logs
	// although ServerSession.Log stays silent until logging/setLevel.
	send mcp.MethodHandler

	mu       sync.Mutex
	watched  int  // revision of test://watched-resource
	toolOn   bool // whether the transient tool of test_trigger_tool_change is listed
	promptOn bool // same for test_trigger_prompt_change

	// A trigger tool ran: the list's list_changed notifications are real.
	toolsChanged, promptsChanged atomic.Bool
}

func newServer(logger *slog.Logger) *server {
	s := &server{}
	s.mcp = mcp.NewServer(&mcp.Implementation{
		Name:    "archestra-legacy-conformance-server",
		Title:   "Legacy MCP server for the conformance suite",
		Version: "1.0.0",
	}, &mcp.ServerOptions{
		Logger:             logger,
		CompletionHandler:  complete,
		SubscribeHandler:   subscribe,
		UnsubscribeHandler: unsubscribe,
	})
	s.mcp.AddSendingMiddleware(s.captureSender, s.quietStartup)
	s.addContentTools()
	s.addClientRequestTools()
	s.addInputTools()
	s.addDiagnosticTools()
	s.addResources()
	s.addPrompts()
	return s
}

// captureSender keeps the handler below it as s.send and changes nothing.
func (s *server) captureSender(next mcp.MethodHandler) mcp.MethodHandler {
	s.send = next
	return next
}

// quietStartup drops the list_changed notifications of lists no trigger
// tool has changed yet. go-sdk sends them 10ms after every registration to
// every session, so the registrations at startup would reach a stdio client
// just after (or even before) initialize, although nothing changed for it.
// The resource list never changes.
func (s *server) quietStartup(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		switch method {
		case "notifications/tools/list_changed":
			if !s.toolsChanged.Load() {
				return nil, nil
			}
		case "notifications/prompts/list_changed":
			if !s.promptsChanged.Load() {
				return nil, nil
			}
		case "notifications/resources/list_changed":
			return nil, nil
		}
		return next(ctx, method, req)
	}
}

// notify sends a notification on ss without the SDK's per-method gating.
func (s *server) notify(ctx context.Context, ss *mcp.ServerSession, method string, params mcp.Params) error {
	_, err := s.send(ctx, method, &mcp.ServerRequest[mcp.Params]{Session: ss, Params: params})
	return err
}

// text is a tool result of one text block.
func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}
