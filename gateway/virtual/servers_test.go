package virtual_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// sdkServer is an MCP Go SDK server (2026-07-28 and stateless, as the
// sidecar presents every server) named name with an echo tool, a prompt,
// resources and a template under test://<name>/, and an "ask" tool that
// needs the client's input (an InputRequiredResult, then the answer).
func sdkServer(name string) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: name, Version: "test"}, nil)
	text := func(s string) *mcp.CallToolResult {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
	}
	mcp.AddTool(s, &mcp.Tool{Name: "echo"}, func(_ context.Context, _ *mcp.CallToolRequest, in struct {
		Text string `json:"text"`
	}) (*mcp.CallToolResult, any, error) {
		return text(name + ": " + in.Text), nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "ask"}, func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		if a, ok := req.Params.InputResponses["who"].(*mcp.ElicitResult); ok {
			return text(name + " met " + a.Content["name"].(string)), nil, nil
		}
		return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{"who": &mcp.ElicitParams{Message: "Who are you?",
			RequestedSchema: map[string]any{"type": "object", "properties": map[string]any{"name": map[string]any{"type": "string"}}}}}}, nil, nil
	})
	s.AddPrompt(&mcp.Prompt{Name: "greet"}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "hello from " + name}}}}, nil
	})
	for _, uri := range []string{"test://" + name + "/doc", "test://shared/doc"} {
		s.AddResource(&mcp.Resource{URI: uri, Name: uri}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: name + " has " + req.Params.URI}}}, nil
		})
	}
	s.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: "test://" + name + "/items/{id}", Name: "item"},
		func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: name + " item " + req.Params.URI}}}, nil
		})
	return s
}

// serve runs h on loopback as a fake pod's endpoint and returns its port.
func serve(t testing.TB, h http.Handler) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func statelessHandler(s *mcp.Server) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/mcp", mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{Stateless: true}))
	return mux
}

// slow delays the answers to one MCP method.
func slow(next http.Handler, method string, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(api.HeaderMethod) == method {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// memberAt makes the server on port a pod of ns/name (ready or not).
func (h *harness) memberAt(port int, ns, name string, ready bool) *corev1.Pod {
	h.t.Helper()
	cond := corev1.ConditionTrue
	if !ready {
		cond = corev1.ConditionFalse
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-" + strconv.Itoa(port), UID: types.UID("uid-" + name + strconv.Itoa(port)),
			Labels:      map[string]string{api.ServerLabel: name},
			Annotations: api.EncodePodEndpoint(api.PodEndpoint{Port: port, Path: "/mcp", Transport: api.TransportStreamableHTTP})},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1",
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: cond}}},
	}
	_, err := h.client.CoreV1().Pods(ns).Create(h.ctx, pod, metav1.CreateOptions{})
	require.NoError(h.t, err)
	require.Eventually(h.t, func() bool { return h.gw.Registry.Lookup(ns, name, string(pod.UID)) != nil }, 5*time.Second, 5*time.Millisecond)
	return pod
}

// rpc posts one JSON-RPC message to the virtual server as a 2026-07-28
// client and returns the status and the decoded answer.
func (h *harness) rpc(t *testing.T, ns, name, method, mcpName string, params map[string]any) (int, map[string]any) {
	t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	params["_meta"] = map[string]any{api.MetaProtocolVersion: api.MCPVersion20260728, api.MetaClientCapabilities: map[string]any{}}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
	req, err := http.NewRequest(http.MethodPost, h.url+"/mcp/"+ns+"/"+name, bytesReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set(api.HeaderProtocolVersion, api.MCPVersion20260728)
	req.Header.Set(api.HeaderMethod, method)
	if mcpName != "" {
		req.Header.Set(api.HeaderName, mcpName)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	return resp.StatusCode, decodeAnswer(t, resp)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// decodeAnswer reads a JSON answer, or the last message of an event
// stream.
func decodeAnswer(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		var last []byte
		for _, line := range strings.Split(string(b), "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok && d != "" {
				last = []byte(d)
			}
		}
		b = last
	}
	var out map[string]any
	if len(bytes.TrimSpace(b)) > 0 {
		require.NoError(t, json.Unmarshal(b, &out), string(b))
	}
	return out
}
