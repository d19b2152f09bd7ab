package stdio

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// npmPrefix is the npm project holding the reference servers
// (npm ci --prefix transport/testdata/npm).
func npmPrefix(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("../testdata/npm")
	require.NoError(t, err)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "server-everything", "package.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("server-everything is not installed (run: npm ci --prefix transport/testdata/npm): %v", err)
		}
		t.Skip("server-everything not installed; run: npm ci --prefix transport/testdata/npm")
	}
	return dir
}

// The real @modelcontextprotocol/server-everything, started by npx, behind
// the bridge.
func TestServerEverything(t *testing.T) {
	t.Parallel()
	prefix := npmPrefix(t)
	for _, shared := range []bool{false, true} {
		t.Run(map[bool]string{false: "per-session", true: "shared"}[shared], func(t *testing.T) {
			t.Parallel()
			b := newBridge(t, func(c *Config) {
				c.Shared = shared
				c.Starter = &ExecStarter{Command: []string{"npx", "--no-install", "--prefix", prefix, "mcp-server-everything", "stdio"}, Stderr: io.Discard}
				c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			})
			// Two sessions at once: in shared mode they share the process.
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() { exerciseEverything(t, b) })
			}
			wg.Wait()
		})
	}
}

// exerciseEverything runs in its own goroutine: assert only, no FailNow.
func exerciseEverything(t *testing.T, b *bridge) {
	var mu sync.Mutex
	var progress []float64
	cs, err := dial(t, b.URL, mcp.LatestVersion, &sdk.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *sdk.ProgressNotificationClientRequest) {
			mu.Lock()
			progress = append(progress, req.Params.Progress)
			mu.Unlock()
		},
		CreateMessageHandler: func(_ context.Context, req *sdk.CreateMessageRequest) (*sdk.CreateMessageResult, error) {
			return &sdk.CreateMessageResult{Model: "test-model", Role: "assistant", Content: &sdk.TextContent{Text: "sampled-answer"}}, nil
		},
	})
	if !assert.NoError(t, err) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	tools, err := cs.ListTools(ctx, nil)
	if !assert.NoError(t, err) {
		return
	}
	names := map[string]bool{}
	for _, tl := range tools.Tools {
		names[tl.Name] = true
	}
	assert.True(t, names["echo"], "tools: %v", names)

	out, err := call(cs, "echo", map[string]any{"message": "hi"})
	assert.NoError(t, err)
	assert.Equal(t, "Echo: hi", out)

	res, err := cs.CallTool(ctx, &sdk.CallToolParams{
		Name: "trigger-long-running-operation", Arguments: map[string]any{"duration": 0.3, "steps": 3},
		Meta: sdk.Meta{"progressToken": "everything-progress"},
	})
	if assert.NoError(t, err) && assert.False(t, res.IsError) {
		assert.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(progress) == 3
		}, 10*time.Second, 5*time.Millisecond)
	}

	if !assert.True(t, names["trigger-sampling-request"], "sampling tool missing: %v", names) {
		return
	}
	res, err = cs.CallTool(ctx, &sdk.CallToolParams{Name: "trigger-sampling-request", Arguments: map[string]any{"prompt": "hello", "maxTokens": 5}})
	if !assert.NoError(t, err) {
		return
	}
	var all strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			all.WriteString(tc.Text)
		}
	}
	assert.Contains(t, all.String(), "sampled-answer")
}
