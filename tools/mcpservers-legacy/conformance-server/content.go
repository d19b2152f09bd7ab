package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// noArgs is the handler type of the tools without arguments.
type noArgs = mcp.ToolHandlerFor[any, any]

// stepDelay separates the notifications of the logging and progress tools:
// the scenarios ask for ~50ms so that clients see them arrive one by one.
const stepDelay = 50 * time.Millisecond

// addContentTools registers the tools that return fixed content (the
// tools-call-* scenarios of both revisions) and the ones that notify.
func (s *server) addContentTools() {
	fixed := []struct {
		name, desc string
		content    []mcp.Content
	}{
		{"test_simple_text", "Returns a simple text response", []mcp.Content{
			&mcp.TextContent{Text: "This is a simple text response for testing."},
		}},
		{"test_image_content", "Returns a 1x1 red PNG image", []mcp.Content{
			&mcp.ImageContent{Data: redPixelPNG, MIMEType: "image/png"},
		}},
		{"test_audio_content", "Returns a short silent WAV", []mcp.Content{
			&mcp.AudioContent{Data: silentWAV, MIMEType: "audio/wav"},
		}},
		{"test_embedded_resource", "Returns an embedded text resource", []mcp.Content{
			embedded("test://embedded-resource", "text/plain", "This is an embedded resource content."),
		}},
		{"test_multiple_content_types", "Returns text, image and resource content", []mcp.Content{
			&mcp.TextContent{Text: "Multiple content types test:"},
			&mcp.ImageContent{Data: redPixelPNG, MIMEType: "image/png"},
			embedded("test://mixed-content-resource", "application/json", `{"test":"data","value":123}`),
		}},
	}
	for _, f := range fixed {
		mcp.AddTool(s.mcp, &mcp.Tool{Name: f.name, Description: f.desc}, fixedContent(f.content))
	}
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "test_error_handling", Description: "Always fails with a tool error"},
		func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
			// A plain error becomes a result with isError: true.
			return nil, nil, errors.New("This tool intentionally returns an error for testing")
		})
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "test_tool_with_logging",
		Description: "Sends three info log messages (after logging/setLevel) 50ms apart"}, logThrice)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "test_tool_with_progress",
		Description: "Reports progress 0, 50, 100 of 100 when the request has a progressToken"}, progressThrice)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "test_reconnection",
		Description: "Over HTTP, closes the request's SSE stream mid-call and answers after the client resumes"}, reconnection)
	// SEP-2243: clients of 2026-07-28 mirror region into Mcp-Param-Region;
	// whoever serves this over HTTP (the sidecar, for this stdio server)
	// checks the header against the body.
	s.mcp.AddTool(&mcp.Tool{Name: "test_x_mcp_header",
		Description: "Has an argument its clients mirror into the Mcp-Param-Region header",
		InputSchema: json.RawMessage(`{"type":"object","properties":{` +
			`"region":{"type":"string","description":"mirrored into Mcp-Param-Region","x-mcp-header":"Region"},` +
			`"level":{"type":"integer","description":"not mirrored"}}}`)},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var in struct {
				Region string `json:"region"`
			}
			_ = json.Unmarshal(req.Params.Arguments, &in)
			return text("region=" + in.Region), nil
		})
	s.mcp.AddTool(&mcp.Tool{Name: "json_schema_2020_12_tool",
		Description: "Has an input schema with JSON Schema 2020-12 keywords that must survive tools/list",
		InputSchema: jsonSchema202012}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return text("json_schema_2020_12_tool called"), nil
	})
}

func embedded(uri, mimeType, body string) *mcp.EmbeddedResource {
	return &mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: uri, MIMEType: mimeType, Text: body}}
}

func fixedContent(content []mcp.Content) noArgs {
	return func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: content}, nil, nil
	}
}

// logThrice logs through ServerSession.Log, which sends nothing until the
// client set a level: the legacy behaviour tools-call-with-logging expects.
func logThrice(ctx context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
	for i, msg := range []string{"Tool execution started", "Tool processing data", "Tool execution completed"} {
		if i > 0 {
			if err := pause(ctx, stepDelay); err != nil {
				return nil, nil, err
			}
		}
		if err := req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Logger: "conformance", Data: msg}); err != nil {
			return nil, nil, fmt.Errorf("logging %q: %w", msg, err)
		}
	}
	return text("Tool with logging executed successfully"), nil, nil
}

func progressThrice(ctx context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
	token := req.Params.GetProgressToken()
	for i, p := range []float64{0, 50, 100} {
		if i > 0 {
			if err := pause(ctx, stepDelay); err != nil {
				return nil, nil, err
			}
		}
		if token == nil {
			continue
		}
		err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
			ProgressToken: token, Progress: p, Total: 100, Message: fmt.Sprintf("step %d of 3", i+1),
		})
		if err != nil {
			return nil, nil, fmt.Errorf("notifying progress %v: %w", p, err)
		}
	}
	return text("Tool with progress executed successfully"), nil, nil
}

// reconnection closes the SSE stream of its own request (SEP-1699) when the
// transport has one, then gives the client time to reconnect before the
// result is written, so that the result travels on the resumed stream.
func reconnection(ctx context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
	if req.Extra != nil && req.Extra.CloseSSEStream != nil {
		req.Extra.CloseSSEStream(mcp.CloseSSEStreamArgs{RetryAfter: 10 * time.Millisecond})
		if err := pause(ctx, 100*time.Millisecond); err != nil {
			return nil, nil, err
		}
	}
	return text("Reconnection test completed successfully"), nil, nil
}

// pause waits d unless ctx ends first.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var jsonSchema202012 = json.RawMessage(`{
	"$schema": "https://json-schema.org/draft/2020-12/schema",
	"type": "object",
	"$defs": {
		"address": {
			"$anchor": "addressDef",
			"type": "object",
			"properties": {"street": {"type": "string"}, "city": {"type": "string"}}
		}
	},
	"properties": {
		"name": {"type": "string"},
		"address": {"$ref": "#/$defs/address"},
		"contactMethod": {"type": "string", "enum": ["phone", "email"]},
		"phone": {"type": "string"},
		"email": {"type": "string"}
	},
	"allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
	"if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
	"then": {"required": ["phone"]},
	"else": {"required": ["email"]},
	"additionalProperties": false
}`)
