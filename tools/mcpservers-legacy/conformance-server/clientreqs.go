package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The 2025-11-25 tools that ask the client something during the call. Their
// requests carry no input key: a bridge must invent one.

type samplingArgs struct {
	Prompt string `json:"prompt" jsonschema:"the prompt to send to the LLM"`
}

type elicitationArgs struct {
	Message string `json:"message" jsonschema:"the message to show the user"`
}

func (s *server) addClientRequestTools() {
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "test_sampling",
		Description: "Asks the client's LLM to answer the prompt (sampling/createMessage)"}, sample)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "test_elicitation",
		Description: "Asks the user for a username and an email (elicitation/create)"}, elicitUser)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "test_elicitation_sep1034_defaults",
		Description: "Elicits a form whose fields of every primitive type have defaults (SEP-1034)"},
		elicitForm("Please review your profile", sep1034Schema))
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "test_elicitation_sep1330_enums",
		Description: "Elicits a form with the five enum schema variants (SEP-1330)"},
		elicitForm("Please choose your options", sep1330Schema))
}

func sample(ctx context.Context, req *mcp.CallToolRequest, in samplingArgs) (*mcp.CallToolResult, any, error) {
	if err := requireCaps(req.Session, capSampling); err != nil {
		return nil, nil, err
	}
	res, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{
		Messages:  []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: in.Prompt}}},
		MaxTokens: 100,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("sampling: %w", err)
	}
	answer := fmt.Sprintf("%v", res.Content)
	if tc, ok := res.Content.(*mcp.TextContent); ok {
		answer = tc.Text
	}
	return text("LLM response: " + answer), nil, nil
}

func elicitUser(ctx context.Context, req *mcp.CallToolRequest, in elicitationArgs) (*mcp.CallToolResult, any, error) {
	return elicitForm(in.Message, userSchema)(ctx, req, nil)
}

// elicitForm elicits schema and reports the answer as the scenarios word it.
func elicitForm(message string, schema json.RawMessage) noArgs {
	return func(ctx context.Context, req *mcp.CallToolRequest, _ any) (*mcp.CallToolResult, any, error) {
		if err := requireCaps(req.Session, capElicitation); err != nil {
			return nil, nil, err
		}
		res, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: message, RequestedSchema: schema})
		if err != nil {
			return nil, nil, fmt.Errorf("elicitation: %w", err)
		}
		content, err := json.Marshal(res.Content)
		if err != nil {
			return nil, nil, fmt.Errorf("encoding the elicited content: %w", err)
		}
		return text(fmt.Sprintf("Elicitation completed: action=%s, content=%s", res.Action, content)), nil, nil
	}
}

var userSchema = json.RawMessage(`{
	"type": "object",
	"properties": {
		"username": {"type": "string", "description": "User's response"},
		"email": {"type": "string", "description": "User's email address"}
	},
	"required": ["username", "email"]
}`)

var sep1034Schema = json.RawMessage(`{
	"type": "object",
	"properties": {
		"name": {"type": "string", "description": "Your name", "default": "John Doe"},
		"age": {"type": "integer", "description": "Your age", "default": 30},
		"score": {"type": "number", "description": "Your score", "default": 95.5},
		"status": {"type": "string", "description": "Account status",
			"enum": ["active", "inactive", "pending"], "default": "active"},
		"verified": {"type": "boolean", "description": "Whether you are verified", "default": true}
	}
}`)

var sep1330Schema = json.RawMessage(`{
	"type": "object",
	"properties": {
		"untitledSingle": {"type": "string", "description": "Untitled single-select",
			"enum": ["option1", "option2", "option3"]},
		"titledSingle": {"type": "string", "description": "Titled single-select", "oneOf": [
			{"const": "value1", "title": "First Option"},
			{"const": "value2", "title": "Second Option"},
			{"const": "value3", "title": "Third Option"}
		]},
		"legacyEnum": {"type": "string", "description": "Legacy titled enum (enumNames, deprecated)",
			"enum": ["opt1", "opt2", "opt3"], "enumNames": ["Option One", "Option Two", "Option Three"]},
		"untitledMulti": {"type": "array", "description": "Untitled multi-select",
			"items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
		"titledMulti": {"type": "array", "description": "Titled multi-select", "items": {"anyOf": [
			{"const": "value1", "title": "First Choice"},
			{"const": "value2", "title": "Second Choice"},
			{"const": "value3", "title": "Third Choice"}
		]}}
	}
}`)
