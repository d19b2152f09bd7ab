package stdio

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

func TestToolCallAllProtocolVersions(t *testing.T) {
	t.Parallel()
	b := newBridge(t)
	for _, v := range mcp.SupportedVersions() {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			cs := connect(t, b.URL, v, nil)
			assert.Equal(t, v, cs.InitializeResult().ProtocolVersion)
			assert.Equal(t, "hello "+v, callText(t, cs, "echo", map[string]any{"text": "hello " + v}))
			tools, err := cs.ListTools(context.Background(), nil)
			require.NoError(t, err)
			assert.NotEmpty(t, tools.Tools)
		})
	}
}

func TestFiftyConcurrentSessionsAreIsolated(t *testing.T) {
	t.Parallel()
	b := newBridge(t, func(c *Config) { c.WarmPool = 4 })
	const sessions, calls = 50, 3
	pids := make([]string, sessions)
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Go(func() {
			cs, err := dial(t, b.URL, mcp.LatestVersion, nil)
			if !assert.NoError(t, err) {
				return
			}
			pid, err := call(cs, "pid", map[string]any{})
			assert.NoError(t, err)
			pids[i] = pid
			// Each session has its own process, so its own counter.
			for n := 1; n <= calls; n++ {
				got, err := call(cs, "counter", map[string]any{})
				assert.NoError(t, err)
				assert.Equal(t, strconv.Itoa(n), got)
			}
			got, err := call(cs, "echo", map[string]any{"text": "s" + strconv.Itoa(i)})
			assert.NoError(t, err)
			assert.Equal(t, "s"+strconv.Itoa(i), got)
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, p := range pids {
		require.NotEmpty(t, p)
		assert.False(t, seen[p], "pid %s shared by two sessions", p)
		seen[p] = true
	}
	assert.Equal(t, sessions, b.Manager.SessionCount())
}

func TestProgressNotificationsOverSSE(t *testing.T) {
	t.Parallel()
	b := newBridge(t)
	var mu sync.Mutex
	var got []float64
	cs := connect(t, b.URL, mcp.LatestVersion, &sdk.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *sdk.ProgressNotificationClientRequest) {
			mu.Lock()
			got = append(got, req.Params.Progress)
			mu.Unlock()
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{
		Name: "progress", Arguments: map[string]any{"steps": 5},
		Meta: sdk.Meta{"progressToken": "tok-1"},
	})
	require.NoError(t, err)
	assert.Equal(t, "done 5", res.Content[0].(*sdk.TextContent).Text)
	// The SDK client runs notification handlers asynchronously.
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 5
	}, 10*time.Second, 5*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.ElementsMatch(t, []float64{1, 2, 3, 4, 5}, got)
}

func TestSamplingRoundTrip(t *testing.T) {
	t.Parallel()
	b := newBridge(t)
	for _, v := range mcp.SupportedVersions() {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			cs := connect(t, b.URL, v, &sdk.ClientOptions{
				CreateMessageHandler: func(_ context.Context, req *sdk.CreateMessageRequest) (*sdk.CreateMessageResult, error) {
					in := req.Params.Messages[0].Content.(*sdk.TextContent).Text
					return &sdk.CreateMessageResult{Model: "m", Role: "assistant", Content: &sdk.TextContent{Text: "reply to " + in}}, nil
				},
			})
			assert.Equal(t, "sampled: reply to q", callText(t, cs, "sample", map[string]any{"text": "q"}))
		})
	}
}

func TestLoggingNotification(t *testing.T) {
	t.Parallel()
	b := newBridge(t)
	logs := make(chan any, 4)
	cs := connect(t, b.URL, mcp.LatestVersion, &sdk.ClientOptions{
		LoggingMessageHandler: func(_ context.Context, req *sdk.LoggingMessageRequest) { logs <- req.Params.Data },
	})
	require.NoError(t, cs.SetLoggingLevel(context.Background(), &sdk.SetLoggingLevelParams{Level: "debug"}))
	assert.Equal(t, "logged", callText(t, cs, "log", map[string]any{"text": "hello log"}))
	select {
	case d := <-logs:
		assert.Equal(t, "hello log", d)
	case <-time.After(10 * time.Second):
		t.Fatal("no log notification")
	}
}

func TestCrashMidRequestFailsInFlightAndEndsSession(t *testing.T) {
	t.Parallel()
	b := newBridge(t)
	cs := connect(t, b.URL, mcp.LatestVersion, nil)
	sid := cs.ID()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A slow request in flight on its own stream, then the crash.
	slow := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "sleep", Arguments: map[string]any{"ms": 20000}})
		slow <- err
	}()
	require.Eventually(t, func() bool { return pendingCount(b.Manager, sid) == 1 }, 10*time.Second, time.Millisecond)
	_, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "crash", Arguments: map[string]any{"code": 3}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exit status 3")
	select {
	case err := <-slow:
		require.Error(t, err)
		assert.Contains(t, err.Error(), "exit status 3")
	case <-ctx.Done():
		t.Fatal("in-flight request hung after the crash")
	}
	resp := rawPost(t, b.URL, sid, mcp.LatestVersion, `{"jsonrpc":"2.0","id":9,"method":"tools/list"}`)
	assert.Equal(t, 404, resp.status)
	assert.Equal(t, 0, b.Manager.SessionCount())
}

func TestRootsAndElicitationRoundTrips(t *testing.T) {
	t.Parallel()
	b := newBridge(t)
	c := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, &sdk.ClientOptions{
		ElicitationHandler: func(_ context.Context, req *sdk.ElicitRequest) (*sdk.ElicitResult, error) {
			return &sdk.ElicitResult{Action: "accept", Content: map[string]any{"name": "answer to " + req.Params.Message}}, nil
		},
	})
	c.AddRoots(&sdk.Root{URI: "file:///workspace", Name: "ws"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: b.URL}, &sdk.ClientSessionOptions{ProtocolVersion: mcp.LatestVersion})
	require.NoError(t, err)
	defer cs.Close()
	assert.Equal(t, "file:///workspace", callText(t, cs, "roots", map[string]any{}))
	assert.Equal(t, "accept answer to who?", callText(t, cs, "elicit", map[string]any{"text": "who?"}))
}

// A message the server sends while no request is in flight travels on the
// standalone GET stream.
func TestServerInitiatedMessageOnGETStream(t *testing.T) {
	t.Parallel()
	b := newBridge(t)
	logs := make(chan any, 4)
	cs := connect(t, b.URL, mcp.LatestVersion, &sdk.ClientOptions{
		LoggingMessageHandler: func(_ context.Context, req *sdk.LoggingMessageRequest) { logs <- req.Params.Data },
	})
	require.NoError(t, cs.SetLoggingLevel(context.Background(), &sdk.SetLoggingLevelParams{Level: "info"}))
	assert.Equal(t, "later", callText(t, cs, "log-later", map[string]any{"text": "spontaneous"}))
	select {
	case d := <-logs:
		assert.Equal(t, "spontaneous", d)
	case <-time.After(10 * time.Second):
		t.Fatal("no message on the GET stream")
	}
}

// pendingCount is the number of requests of session sid in flight.
func pendingCount(m *Manager, sid string) int {
	s := m.lookup(sid)
	if s == nil {
		return -1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}
