package stdio

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// 20 sessions x 10 concurrent requests on one shared process: every answer
// reaches its own caller although the sessions reuse the same request ids.
func TestSharedModeRoutesEveryAnswerToItsCaller(t *testing.T) {
	t.Parallel()
	b := newBridge(t, func(c *Config) { c.Shared = true })
	const sessions, perSession = 20, 10
	css := make([]*sdk.ClientSession, sessions)
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Go(func() {
			cs, err := dial(t, b.URL, mcp.LatestVersion, nil)
			assert.NoError(t, err)
			css[i] = cs
		})
	}
	wg.Wait()
	require.False(t, t.Failed())
	pids := map[string]bool{}
	for _, cs := range css {
		pids[callText(t, cs, "pid", map[string]any{})] = true
	}
	assert.Len(t, pids, 1, "one process for all sessions")
	for i, cs := range css {
		for j := range perSession {
			wg.Go(func() {
				want := fmt.Sprintf("session %d request %d", i, j)
				got, err := call(cs, "echo", map[string]any{"text": want})
				assert.NoError(t, err)
				assert.Equal(t, want, got)
			})
		}
	}
	wg.Wait()
	// The shared process counts for everybody.
	assert.Equal(t, "1", callText(t, css[0], "counter", map[string]any{}))
	assert.Equal(t, "2", callText(t, css[1], "counter", map[string]any{}))
}

func TestSharedModeProgressAndSampling(t *testing.T) {
	t.Parallel()
	b := newBridge(t, func(c *Config) { c.Shared = true })
	var mu sync.Mutex
	progress := map[int]int{}
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			cs, err := dial(t, b.URL, mcp.LatestVersion, &sdk.ClientOptions{
				ProgressNotificationHandler: func(_ context.Context, req *sdk.ProgressNotificationClientRequest) {
					mu.Lock()
					progress[i]++
					mu.Unlock()
				},
				CreateMessageHandler: func(context.Context, *sdk.CreateMessageRequest) (*sdk.CreateMessageResult, error) {
					return &sdk.CreateMessageResult{Model: "m", Role: "assistant", Content: &sdk.TextContent{Text: fmt.Sprint(i)}}, nil
				},
			})
			if !assert.NoError(t, err) {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// Every session uses the same progress token.
			res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "progress", Arguments: map[string]any{"steps": 4}, Meta: sdk.Meta{"progressToken": "same"}})
			if assert.NoError(t, err) {
				assert.Equal(t, "done 4", res.Content[0].(*sdk.TextContent).Text)
			}
		})
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return progress[0] == 4 && progress[1] == 4 && progress[2] == 4
	}, 10*time.Second, 5*time.Millisecond)

	// A sampling request goes to the session whose call is in flight.
	cs := connect(t, b.URL, mcp.LatestVersion, &sdk.ClientOptions{
		CreateMessageHandler: func(context.Context, *sdk.CreateMessageRequest) (*sdk.CreateMessageResult, error) {
			return &sdk.CreateMessageResult{Model: "m", Role: "assistant", Content: &sdk.TextContent{Text: "mine"}}, nil
		},
	})
	assert.Equal(t, "sampled: mine", callText(t, cs, "sample", map[string]any{"text": "q"}))
}

func TestSharedModeCrashEndsAllSessionsThenRecovers(t *testing.T) {
	t.Parallel()
	b := newBridge(t, func(c *Config) { c.Shared = true })
	a := connect(t, b.URL, mcp.LatestVersion, nil)
	other := rawSession(t, b.URL, api.MCPVersion20250618)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := a.CallTool(ctx, &sdk.CallToolParams{Name: "crash", Arguments: map[string]any{"code": 7}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exit status 7")
	require.Eventually(t, func() bool { return b.Manager.SessionCount() == 0 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, 404, rawPost(t, b.URL, other, api.MCPVersion20250618, `{"jsonrpc":"2.0","id":1,"method":"ping"}`).status)
	// A new session starts a new process.
	c := connect(t, b.URL, mcp.LatestVersion, nil)
	assert.Equal(t, "1", callText(t, c, "counter", map[string]any{}))
}
