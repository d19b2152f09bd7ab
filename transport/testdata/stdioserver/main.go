// Command stdioserver is an MCP server on stdio written with the official Go
// SDK, used by the mcp-transport tests. Its tools exercise what the bridge
// must carry: plain answers, per-process state (isolation), progress
// notifications, sampling round trips, logging and crashes.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type echoIn struct {
	Text string `json:"text"`
}

type stepsIn struct {
	Steps int `json:"steps"`
}

type codeIn struct {
	Code int `json:"code"`
}

type msIn struct {
	Ms int `json:"ms"`
}

type empty struct{}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

func main() {
	modernOnly := flag.Bool("modern-only", false, "refuse initialize and advertise only 2026-07-28, as a server without the legacy era would")
	flag.Parse()
	var counter atomic.Int64
	s := mcp.NewServer(&mcp.Implementation{Name: "stdioserver", Version: "1"}, nil)
	if *modernOnly {
		s.AddReceivingMiddleware(modernOnlyMiddleware)
	}
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "echo text"}, func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
		return text(in.Text), nil, nil
	})
	// Its clients mirror region into Mcp-Param-Region (2026-07-28), which
	// the bridge checks, since the headers never reach this process.
	s.AddTool(&mcp.Tool{Name: "region", Description: "echo the region", InputSchema: json.RawMessage(
		`{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"}}}`)},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var in struct{ Region string }
			_ = json.Unmarshal(req.Params.Arguments, &in)
			return text("region " + in.Region), nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "pid", Description: "process id"}, func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, any, error) {
		return text(strconv.Itoa(os.Getpid())), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "counter", Description: "per-process counter"}, func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, any, error) {
		return text(strconv.FormatInt(counter.Add(1), 10)), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "progress", Description: "reports progress"}, func(ctx context.Context, req *mcp.CallToolRequest, in stepsIn) (*mcp.CallToolResult, any, error) {
		tok := req.Params.GetProgressToken()
		for i := 1; i <= in.Steps; i++ {
			if tok != nil {
				if err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: float64(i), Total: float64(in.Steps)}); err != nil {
					return nil, nil, err
				}
			}
		}
		return text(fmt.Sprintf("done %d", in.Steps)), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "sample", Description: "asks the client's model"}, func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
		res, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{
			MaxTokens: 10,
			Messages:  []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: in.Text}}},
		})
		if err != nil {
			return nil, nil, err
		}
		t, _ := res.Content.(*mcp.TextContent)
		if t == nil {
			return text("sampled: <non-text>"), nil, nil
		}
		return text("sampled: " + t.Text), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "roots", Description: "asks the client for its roots"}, func(ctx context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, any, error) {
		res, err := req.Session.ListRoots(ctx, nil)
		if err != nil {
			return nil, nil, err
		}
		if len(res.Roots) == 0 {
			return text("no roots"), nil, nil
		}
		return text(res.Roots[0].URI), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "elicit", Description: "asks the user"}, func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
		res, err := req.Session.Elicit(ctx, &mcp.ElicitParams{
			Message: in.Text,
			RequestedSchema: map[string]any{
				"type":       "object",
				"properties": map[string]any{"name": map[string]any{"type": "string"}},
			},
		})
		if err != nil {
			return nil, nil, err
		}
		return text(fmt.Sprintf("%s %v", res.Action, res.Content["name"])), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "ask-name", Description: "asks the user's name with an input request (MRTR)"}, func(_ context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, any, error) {
		if r, ok := req.Params.InputResponses["name"].(*mcp.ElicitResult); ok && r.Action == "accept" {
			return text(fmt.Sprintf("hello %v", r.Content["name"])), nil, nil
		}
		return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{"name": &mcp.ElicitParams{
			Message:         "name?",
			RequestedSchema: map[string]any{"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}}},
		}}}, nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "log", Description: "logs a message"}, func(ctx context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
		_ = req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Data: in.Text})
		return text("logged"), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "log-later", Description: "logs a message after answering"}, func(_ context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
		go func() {
			time.Sleep(100 * time.Millisecond)
			// No request is in flight by now: this can only travel on the
			// client's GET stream.
			_ = req.Session.Log(context.Background(), &mcp.LoggingMessageParams{Level: "info", Data: in.Text})
		}()
		return text("later"), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "crash", Description: "exits mid-request"}, func(_ context.Context, _ *mcp.CallToolRequest, in codeIn) (*mcp.CallToolResult, any, error) {
		fmt.Fprintln(os.Stderr, "crashing on purpose")
		os.Exit(in.Code)
		return nil, nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "sleep", Description: "sleeps"}, func(ctx context.Context, _ *mcp.CallToolRequest, in msIn) (*mcp.CallToolResult, any, error) {
		select {
		case <-time.After(time.Duration(in.Ms) * time.Millisecond):
		case <-ctx.Done():
		}
		return text("slept"), nil, nil
	})
	if err := s.Run(context.Background(), &mcp.StdioTransport{}); err != nil {
		log.Printf("server ended: %v", err)
	}
}

// modernOnlyMiddleware makes the server one that speaks only 2026-07-28.
func modernOnlyMiddleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method == "initialize" {
			return nil, fmt.Errorf("this server speaks only protocol version 2026-07-28")
		}
		res, err := next(ctx, method, req)
		if d, ok := res.(*mcp.DiscoverResult); ok && err == nil {
			d.SupportedVersions = []string{"2026-07-28"}
		}
		return res, err
	}
}
