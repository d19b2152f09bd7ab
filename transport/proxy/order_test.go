package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/transport/health"
	"github.com/archestra-ai/mcp-orchestrator/transport/metrics"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// strictUpstream is a legacy streamable-HTTP server that sends an
// elicitation on the session's GET stream during tools/call and loses it
// when no GET stream is connected yet (as servers without a replay buffer
// do). Its GET takes a while to be established, as a busy server's does.
type strictUpstream struct {
	mu      sync.Mutex
	streams map[string]chan string
	lost    int
}

func (u *strictUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sid := r.Header.Get("Mcp-Session-Id")
	switch {
	case r.Method == http.MethodGet:
		time.Sleep(30 * time.Millisecond) // a busy server: the stream opens late
		ch := make(chan string, 1)
		u.mu.Lock()
		u.streams[sid] = ch
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case ev := <-ch:
			fmt.Fprintf(w, "data: %s\n\n", ev)
			w.(http.Flusher).Flush()
		case <-r.Context().Done():
		}
	case sid == "": // the sidecar's readiness probe
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":"readiness-probe","result":{}}`)
	default:
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		ch := u.streams[sid]
		if ch == nil {
			u.lost++
		}
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if ch == nil {
			_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"elicitation lost: no GET stream"}}`)
			return
		}
		ch <- `{"jsonrpc":"2.0","id":"e1","method":"elicitation/create","params":{"message":"` + string(body[:0]) + `name?"}}`
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`)
	}
}

// A client that opens its GET stream and then POSTs a tool call gets the
// server's request on that stream, however late the upstream establishes it
// (50 sessions at once).
func TestProxyKeepsTheGetBeforeThePost(t *testing.T) {
	t.Parallel()
	up := &strictUpstream{streams: map[string]chan string{}}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL + "/mcp")
	require.NoError(t, err)
	p := New(Config{Upstream: u, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics.New(), Health: health.NewTracker(time.Minute)})
	t.Cleanup(p.Close)
	// arrived[sid] is closed once the proxy has the session's GET: the
	// client then POSTs, so the order is the client's.
	var mu sync.Mutex
	arrived := map[string]chan struct{}{}
	gate := func(sid string) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		if arrived[sid] == nil {
			arrived[sid] = make(chan struct{})
		}
		return arrived[sid]
	}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			close(gate(r.Header.Get("Mcp-Session-Id")))
		}
		p.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	endpoint := front.URL + "/mcp"

	const sessions = 50
	var wg sync.WaitGroup
	got := make(chan string, sessions)
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sid := fmt.Sprintf("s%d", i)
			got <- getThenPost(t, endpoint, sid, gate(sid))
		}()
	}
	wg.Wait()
	close(got)
	for ev := range got {
		assert.Contains(t, ev, "elicitation/create")
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	assert.Zero(t, up.lost, "server requests lost because a POST overtook its session's GET")
}

// getThenPost opens the session's GET stream (without waiting for it),
// posts a tools/call and returns the first event of the stream.
func getThenPost(t *testing.T, endpoint, sid string, getArrived <-chan struct{}) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	get, _ := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	get.Header.Set("Accept", "text/event-stream")
	get.Header.Set("Mcp-Session-Id", sid)
	events := make(chan string, 1)
	go func() {
		resp, err := http.DefaultClient.Do(get)
		if err != nil {
			events <- err.Error()
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "data: ") {
				events <- line
				return
			}
		}
		events <- "stream ended"
	}()
	<-getArrived
	post, _ := http.NewRequestWithContext(ctx, http.MethodPost, endpoint,
		strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ask"}}`))
	post.Header.Set("Content-Type", "application/json")
	post.Header.Set("Accept", "application/json, text/event-stream")
	post.Header.Set("Mcp-Session-Id", sid)
	post.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	resp, err := http.DefaultClient.Do(post)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	select {
	case ev := <-events:
		return ev
	case <-ctx.Done():
		return "no event"
	}
}
