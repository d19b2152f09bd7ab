// Command stdio-server is the custom-image stdio MCP server of the
// end-to-end suite: tools that tell the test where it runs (pod name,
// environment), so sessions can be traced to pods and secret env checked.
package main

import (
	"context"
	"log"
	"os"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type echoIn struct {
	Text string `json:"text"`
}

type envIn struct {
	Name string `json:"name"`
}

type out struct {
	Text string `json:"text"`
}

func main() {
	s := mcp.NewServer(&mcp.Implementation{Name: "e2e-stdio", Version: "v1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "returns its text"},
		func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, out, error) {
			return nil, out{Text: in.Text}, nil
		})
	// HOSTNAME is the pod name: which pod serves this session.
	mcp.AddTool(s, &mcp.Tool{Name: "hostname", Description: "returns the pod name"},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, out, error) {
			h, err := os.Hostname()
			return nil, out{Text: h}, err
		})
	mcp.AddTool(s, &mcp.Tool{Name: "env", Description: "returns an environment variable"},
		func(_ context.Context, _ *mcp.CallToolRequest, in envIn) (*mcp.CallToolResult, out, error) {
			return nil, out{Text: os.Getenv(in.Name)}, nil
		})
	if err := s.Run(context.Background(), &mcp.StdioTransport{}); err != nil {
		log.Fatal(err)
	}
}
