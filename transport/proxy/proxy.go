// Package proxy is the sidecar's streamable-http mode: a reverse proxy to an
// MCP server listening on localhost in the same pod. It streams SSE without
// buffering and adds the request-headers-secret headers to every request.
package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
	"github.com/archestra-ai/mcp-orchestrator/transport/health"
	"github.com/archestra-ai/mcp-orchestrator/transport/metrics"
)

// Config configures a Proxy.
type Config struct {
	Upstream   *url.URL
	HeadersDir string
	// HeadersTTL is how often HeadersDir is re-read (default 2s).
	HeadersTTL    time.Duration
	ProbeInterval time.Duration
	Logger        *slog.Logger
	Metrics       *metrics.Metrics
	Health        *health.Tracker
}

// Proxy forwards MCP traffic to the upstream server.
type Proxy struct {
	cfg     Config
	rp      *httputil.ReverseProxy
	headers *headerSource
	client  *http.Client
	stop    context.CancelFunc
	done    chan struct{}
	order   *streamOrder
}

// New builds the proxy and starts keeping readiness fresh; Close stops that.
func New(cfg Config) *Proxy {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HeadersTTL <= 0 {
		cfg.HeadersTTL = 2 * time.Second
	}
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = 5 * time.Second
	}
	if cfg.Health == nil {
		cfg.Health = health.NewTracker(10 * time.Minute)
	}
	p := &Proxy{cfg: cfg, headers: newHeaderSource(cfg.HeadersDir, cfg.HeadersTTL, cfg.Logger),
		client: &http.Client{Timeout: 30 * time.Second}, order: newStreamOrder()}
	p.rp = p.reverseProxy()
	ctx, stop := context.WithCancel(context.Background())
	p.stop, p.done = stop, make(chan struct{})
	go func() { defer close(p.done); p.keepReady(ctx) }()
	return p
}

// reverseProxy forwards to the upstream as it is, flushing every write.
func (p *Proxy) reverseProxy() *httputil.ReverseProxy {
	up, cfg := p.cfg.Upstream, p.cfg
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = up.Scheme
			pr.Out.URL.Host = up.Host
			pr.Out.URL.Path = up.Path
			pr.Out.URL.RawPath = up.RawPath
			pr.Out.Host = up.Host
			// The sidecar checked Origin against the pod's own names; the
			// server behind it on localhost would compare it with its own
			// loopback address and refuse every browser client.
			pr.Out.Header.Del("Origin")
			p.addHeaders(pr.Out.Header)
		},
		// Flush every write: SSE events must reach the client as they come.
		FlushInterval: -1,
		// Kept-alive connections to the server for every concurrent
		// request (the default transport keeps two: the others would
		// connect anew each time), and pooled copy buffers (the default is
		// a new 32 KiB one per response).
		Transport:  upstreamTransport(),
		BufferPool: copyBuffers{},
		ModifyResponse: func(resp *http.Response) error {
			if done, ok := resp.Request.Context().Value(establishedKey{}).(func()); ok {
				done()
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				cfg.Metrics.Error("413")
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			if r.Context().Err() != nil {
				return // the client left
			}
			cfg.Metrics.Error("upstream")
			cfg.Logger.Warn("upstream MCP server unreachable", "err", err)
			http.Error(w, "upstream MCP server unreachable", http.StatusBadGateway)
		},
		ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
}

// upstreamTransport reaches the server in the pod over loopback.
func upstreamTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 1024
	t.DisableCompression = true // loopback: compression only costs CPU
	return t
}

// copyBuffers is ReverseProxy's BufferPool on a sync.Pool.
type copyBuffers struct{}

var copyBufferPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (copyBuffers) Get() []byte { return *copyBufferPool.Get().(*[]byte) }

func (copyBuffers) Put(b []byte) { copyBufferPool.Put(&b) }

// Close stops the readiness probes.
func (p *Proxy) Close() {
	p.stop()
	<-p.done
}

// Drain has nothing to end: standing streams belong to the upstream.
func (p *Proxy) Drain() {}

// InFlight is 0: a proxied request lives exactly as long as its HTTP one.
func (p *Proxy) InFlight() int { return 0 }

func (p *Proxy) addHeaders(h http.Header) {
	for k, v := range p.headers.get() {
		h.Set(k, v)
	}
}

// ServeHTTP proxies one request of either protocol era, unchanged: POST
// bodies (bounded by httpguard) are read first so that malformed JSON gets
// the same -32700 answer as in stdio mode, a stateless request whose
// headers do not mirror its body is refused here (as any component that
// reads the body must), and requests are counted by method. The bytes
// forwarded are the bytes received.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		established := p.order.opening(r)
		defer established() // also when the upstream never answered
		p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), establishedKey{}, established)))
		return
	}
	start := time.Now()
	method, ok := p.readPost(w, r)
	if !ok {
		return
	}
	if method != "" {
		// Time to the end of the answer (JSON or the POST's SSE stream),
		// deferred: ReverseProxy aborts the handler with a panic when the
		// client leaves mid-answer.
		defer func() { p.cfg.Metrics.Observe(method, time.Since(start)) }()
	}
	p.order.await(r)
	p.rp.ServeHTTP(w, r)
}

// establishedKey carries a GET's "stream established" callback to
// ModifyResponse.
type establishedKey struct{}

// readPost reads and checks a POST body, puts it back for forwarding and
// returns the method of its last request; it answers the client itself when
// the body is refused.
func (p *Proxy) readPost(w http.ResponseWriter, r *http.Request) (string, bool) {
	body, err := readBody(r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			p.cfg.Metrics.Error("413")
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return "", false
		}
		p.cfg.Metrics.Error("400")
		http.Error(w, "reading body failed", http.StatusBadRequest)
		return "", false
	}
	// Batches are the upstream's call (it knows its protocol revision).
	msgs, batch, err := mcp.Decode(body, true)
	if err != nil {
		p.refuse(w, http.StatusBadRequest, mcp.DecodeErrorResponse(err))
		return "", false
	}
	if !batch && msgs[0].Kind == mcp.KindRequest && mcp.RequestEra(r.Header, msgs[0]) == mcp.EraModern {
		if _, v := mcp.ValidateModern(r.Header, msgs[0]); v != nil {
			p.refuse(w, v.Status, v.Response(msgs[0].ID))
			return "", false
		}
	}
	method := ""
	for _, m := range msgs {
		if m.Kind == mcp.KindRequest {
			p.cfg.Metrics.Request(m.Method)
			method = m.Method
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return method, true
}

// readBody reads a body (bounded by httpguard) into a buffer of its
// Content-Length when it announces one, else as it comes.
func readBody(r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n <= 1<<20 {
		body := make([]byte, n)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, err
		}
		return body, nil
	}
	return io.ReadAll(r.Body)
}

func (p *Proxy) refuse(w http.ResponseWriter, status int, body []byte) {
	p.cfg.Metrics.Error(strconv.Itoa(status))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// keepReady keeps readiness fresh until ctx ends: when no probe succeeded
// within half the readiness window, it does an initialize handshake with
// the upstream (and deletes the session it got).
func (p *Proxy) keepReady(ctx context.Context) {
	for {
		interval := p.cfg.ProbeInterval
		if p.cfg.Health.Stale() {
			if err := p.probe(ctx); err != nil {
				p.cfg.Health.Failed(err.Error())
				interval = min(interval, 500*time.Millisecond)
			} else {
				p.cfg.Health.Succeeded()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

const (
	probeBody = `{"jsonrpc":"2.0","id":"readiness-probe","method":"initialize","params":{"protocolVersion":"` +
		api.MCPVersion20250618 + `","capabilities":{},"clientInfo":{"name":"mcp-transport-readiness","version":"1"}}}`
	discoverBody = `{"jsonrpc":"2.0","id":"readiness-probe","method":"server/discover","params":{"_meta":{"` +
		api.MetaProtocolVersion + `":"` + api.MCPVersion20260728 + `","` + api.MetaClientCapabilities + `":{},"` +
		api.MetaClientInfo + `":{"name":"mcp-transport-readiness","version":"1"}}}}`
)

// probe proves the upstream answers MCP: a stateless server/discover, or
// for a legacy server (any refusal of it) an initialize handshake whose
// session it then deletes.
func (p *Proxy) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	h := http.Header{api.HeaderProtocolVersion: {api.MCPVersion20260728}, api.HeaderMethod: {api.MethodDiscover}}
	if _, _, err := p.post(ctx, discoverBody, h); err == nil {
		return nil
	}
	sid, _, err := p.post(ctx, probeBody, nil)
	if err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	if sid != "" {
		del, err := http.NewRequestWithContext(ctx, http.MethodDelete, p.cfg.Upstream.String(), nil)
		if err == nil {
			del.Header.Set(api.HeaderSessionID, sid)
			p.addHeaders(del.Header)
			if r, err := p.client.Do(del); err == nil {
				r.Body.Close()
			}
		}
	}
	return nil
}

// post sends one probe request and checks that it got a result; it
// returns the session id the upstream issued, if any.
func (p *Proxy) post(ctx context.Context, body string, h http.Header) (string, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.Upstream.String(), strings.NewReader(body))
	if err != nil {
		return "", nil, fmt.Errorf("building probe: %w", err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	p.addHeaders(req.Header)
	resp, err := p.client.Do(req)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if !bytes.Contains(b, []byte(`"result"`)) || !bytes.Contains(b, []byte(`readiness-probe`)) {
		return "", nil, errors.New("no result in the answer")
	}
	return resp.Header.Get(api.HeaderSessionID), b, nil
}
