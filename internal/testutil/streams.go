package testutil

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// Standing streams for memory benchmarks: opened with raw requests (no SDK
// client per stream), held open unread until Close.

// Stream kinds.
const (
	// StreamLegacyGET is a 2025-11-25 session (initialize, initialized)
	// and its GET stream.
	StreamLegacyGET = "legacy-get"
	// StreamModernListen is a 2026-07-28 subscriptions/listen.
	StreamModernListen = "modern-listen"
)

// Streams are open standing streams.
type Streams struct {
	mu     sync.Mutex
	bodies []io.Closer
}

// Len is the number of open streams.
func (s *Streams) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bodies)
}

// Close ends every stream.
func (s *Streams) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.bodies {
		_ = b.Close()
	}
	s.bodies = nil
}

// OpenStreams opens n streams of kind on the MCP endpoint url over hc, with
// workers in parallel; header adds headers to every request (the caller a
// gateway states, say). It stops at the first error.
func OpenStreams(ctx context.Context, hc *http.Client, url, kind string, n, workers int, header http.Header) (*Streams, error) {
	s := &Streams{}
	var next atomic.Int64
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				body, err := openStream(ctx, hc, url, kind, int(i), header)
				if err != nil {
					errc <- fmt.Errorf("stream %d of %d: %w", i, n, err)
					return
				}
				s.mu.Lock()
				s.bodies = append(s.bodies, body)
				s.mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func openStream(ctx context.Context, hc *http.Client, url, kind string, i int, header http.Header) (io.ReadCloser, error) {
	if kind == StreamModernListen {
		body := `{"jsonrpc":"2.0","id":` + strconv.Itoa(i) + `,"method":"subscriptions/listen","params":{"_meta":{"` +
			api.MetaProtocolVersion + `":"` + api.MCPVersion20260728 + `","` + api.MetaClientCapabilities + `":{}},"notifications":{"toolsListChanged":true}}}`
		h := http.Header{api.HeaderProtocolVersion: {api.MCPVersion20260728}, api.HeaderMethod: {"subscriptions/listen"}, "Accept": {"text/event-stream"}}
		return send(ctx, hc, http.MethodPost, url, body, merge(h, header), http.StatusOK)
	}
	v := api.MCPVersion20251125
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"` + v +
		`","capabilities":{},"clientInfo":{"name":"idle-streams","version":"1"}}}`
	resp, err := do(ctx, hc, http.MethodPost, url, init, merge(http.Header{"Accept": {"application/json, text/event-stream"}}, header))
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	sid := resp.Header.Get(api.HeaderSessionID)
	if resp.StatusCode != http.StatusOK || sid == "" {
		return nil, fmt.Errorf("initialize: %s, session %q", resp.Status, sid)
	}
	h := http.Header{api.HeaderSessionID: {sid}, api.HeaderProtocolVersion: {v}, "Accept": {"application/json, text/event-stream"}}
	b, err := send(ctx, hc, http.MethodPost, url, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, merge(h, header), http.StatusAccepted)
	if err != nil {
		return nil, fmt.Errorf("initialized: %w", err)
	}
	_ = b.Close()
	h.Set("Accept", "text/event-stream")
	return send(ctx, hc, http.MethodGet, url, "", merge(h, header), http.StatusOK)
}

// send makes a request and returns its body once the status is want.
func send(ctx context.Context, hc *http.Client, method, url, body string, h http.Header, want int) (io.ReadCloser, error) {
	resp, err := do(ctx, hc, method, url, body, h)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %s %s", method, resp.Status, strings.TrimSpace(string(b)))
	}
	return resp.Body, nil
}

func do(ctx context.Context, hc *http.Client, method, url, body string, h http.Header) (*http.Response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header = h
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	// 30 s to get the headers; the stream then stays as long as it likes.
	timeout := time.AfterFunc(30*time.Second, cancel)
	resp, err := hc.Do(req)
	timeout.Stop()
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose releases the request's context with the body.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

func merge(h, more http.Header) http.Header {
	for k, v := range more {
		h[k] = v
	}
	return h
}
