package virtual

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// Members are reached through the proxy's handler, the one that serves
// their own endpoints: a member is routed, woken, filtered and counted as
// it would be there (the caller's pod for per-session stdio servers, the
// Waker for hibernated ones, its allowed-tools), but always in 2026-07-28,
// which every sidecar speaks, and with the virtual server's grant (the
// handler sits behind the auth guard, which has already run).

// memberRequest builds a 2026-07-28 POST of body for member m from the
// client's request r: the client's context (caller, cancellation) and
// address, a fresh set of headers (nothing else of the client's crosses),
// and the member's path values.
func memberRequest(ctx context.Context, r *http.Request, s *Server, m *Member, method, name string, body []byte) *http.Request {
	out := r.Clone(ctx)
	out.Method = http.MethodPost
	out.Header = http.Header{}
	for k, vs := range r.Header {
		// A tool's mirrored parameters and trace context belong to the
		// call; the client's own session, version and credentials do not.
		if strings.HasPrefix(k, api.HeaderParamPrefix) || k == "Traceparent" || k == "Tracestate" || k == "User-Agent" {
			out.Header[k] = vs
		}
	}
	out.Header.Set("Content-Type", "application/json")
	out.Header.Set("Accept", "application/json, text/event-stream")
	out.Header.Set(api.HeaderProtocolVersion, api.MCPVersion20260728)
	out.Header.Set(api.HeaderMethod, method)
	if name != "" {
		out.Header.Set(api.HeaderName, mcp.EncodeHeaderValue(name))
	}
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	out.URL.Path = "/mcp/" + s.Namespace + "/" + m.Server
	out.RequestURI = ""
	out.SetPathValue("namespace", s.Namespace)
	out.SetPathValue("server", m.Server)
	return out
}

// roundTrip serves req with h in a goroutine and returns its response as
// soon as the status is written, the body streaming through a pipe. Closing
// the body cancels the request (and with it the member's upstream stream).
func roundTrip(h http.Handler, req *http.Request) *http.Response {
	ctx, cancel := context.WithCancel(req.Context())
	req = req.WithContext(ctx)
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, ready: make(chan struct{}), pw: pw}
	go func() {
		defer cancel()
		h.ServeHTTP(w, req)
		w.WriteHeader(http.StatusOK) // nothing written: an empty 200
		_ = pw.Close()
	}()
	<-w.ready
	return &http.Response{StatusCode: w.status, Header: w.sent, Body: &cancelBody{ReadCloser: pr, cancel: cancel}}
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	b.cancel()
	return b.ReadCloser.Close()
}

// pipeWriter is the http.ResponseWriter roundTrip hands the handler.
type pipeWriter struct {
	header http.Header
	sent   http.Header
	once   sync.Once
	ready  chan struct{}
	status int
	pw     *io.PipeWriter
}

func (p *pipeWriter) Header() http.Header { return p.header }

func (p *pipeWriter) WriteHeader(code int) {
	p.once.Do(func() {
		p.status, p.sent = code, p.header.Clone()
		close(p.ready)
	})
}

func (p *pipeWriter) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	return p.pw.Write(b)
}

// Flush: every Write already reaches the reader.
func (p *pipeWriter) Flush() {}

// rpcBody is a JSON-RPC request with id, method and params (raw JSON).
func rpcBody(id []byte, method string, params []byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"jsonrpc":"2.0","id":`)
	b.Write(id)
	b.WriteString(`,"method":`)
	b.WriteString(strconv.Quote(method))
	if len(params) > 0 {
		b.WriteString(`,"params":`)
		b.Write(params)
	}
	b.WriteString(`}`)
	return b.Bytes()
}
