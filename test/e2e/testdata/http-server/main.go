// Command http-server is the streamable-http MCP server of the end-to-end
// suite: its "headers" tool returns the HTTP request headers it received, so
// the test sees what the sidecar added (request-headers-secret).
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type out struct {
	Headers map[string]string `json:"headers"`
}

func main() {
	addr := flag.String("listen", ":3001", "listen address")
	flag.Parse()
	s := mcp.NewServer(&mcp.Implementation{Name: "e2e-http", Version: "v1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "headers", Description: "returns the request headers"},
		func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, out, error) {
			h := map[string]string{}
			for k, v := range req.Extra.Header {
				h[k] = strings.Join(v, ",")
			}
			return nil, out{Headers: h}, nil
		})
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
	mux := http.NewServeMux()
	mux.Handle("/mcp", handler)
	log.Fatal(http.ListenAndServe(*addr, mux))
}
