package toolfilter

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// MaxFilteredBody bounds a JSON response that is buffered to be filtered.
const MaxFilteredBody = 32 << 20

// Middleware enforces p in front of an MCP streamable-HTTP endpoint (the
// sidecar's): POST bodies that cannot be read exactly (malformed, or keys
// that parsers read differently) and tools/calls of tools outside the
// allow-list are answered here and never reach next; every response of
// next, on POST and GET streams alike, has its tools lists filtered.
// where names the server in refusals; refused, if set, is told why each
// refusal happened ("tool_not_allowed", "ambiguous", "malformed").
// A nil p returns next itself.
func Middleware(p *Policy, where string, refused func(reason string), next http.Handler) http.Handler {
	if !p.Active() {
		return next
	}
	if refused == nil {
		refused = func(string) {}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && !p.admit(w, r, where, refused) {
			return
		}
		fw := &filterWriter{ResponseWriter: w, p: p}
		defer fw.finish()
		next.ServeHTTP(fw, r)
	})
}

// admit reads the POST body and reports whether it may go on; the body is
// put back for next.
func (p *Policy) admit(w http.ResponseWriter, r *http.Request, where string, refused func(string)) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, mcp.InvalidRequest(nil, "request body too large"))
			return false
		}
		writeError(w, http.StatusBadRequest, mcp.ParseError("reading the request body failed"))
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	msgs, batch, err := mcp.Decode(body, true)
	if err != nil {
		// What the filter cannot read is never passed on: a lenient
		// server might still run it.
		refused("malformed")
		writeError(w, http.StatusBadRequest, mcp.DecodeErrorResponse(err))
		return false
	}
	for _, m := range msgs {
		if key := AmbiguousKey(m); key != "" {
			refused("ambiguous")
			writeError(w, http.StatusBadRequest, mcp.InvalidRequest(m.ID, fmt.Sprintf("keys differing only in case (%q)", key)))
			return false
		}
	}
	if tool, ok := p.Refused(msgs); ok {
		refused("tool_not_allowed")
		Refuse(w, msgs, batch, NotAllowed(tool, where))
		return false
	}
	return true
}

func writeError(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Modes of a filterWriter, decided at WriteHeader.
const (
	modePass   = iota + 1 // not a successful JSON or SSE answer
	modeJSON              // buffered, filtered at finish
	modeSSE               // filtered event by event
	modeTooBig            // a JSON answer beyond MaxFilteredBody
)

// filterWriter filters the response of the wrapped endpoint.
type filterWriter struct {
	http.ResponseWriter
	p      *Policy
	mode   int
	status int
	buf    bytes.Buffer
	sse    *SSEWriter
}

func (f *filterWriter) WriteHeader(code int) {
	if f.mode != 0 {
		return
	}
	mt, _, _ := mime.ParseMediaType(f.Header().Get("Content-Type"))
	switch {
	case code < 200 || code >= 300:
		f.mode = modePass
	case mt == "text/event-stream":
		f.mode, f.sse = modeSSE, f.p.NewSSEWriter(f.ResponseWriter)
		f.Header().Del("Content-Length")
	case strings.HasSuffix(mt, "json"):
		f.mode, f.status = modeJSON, code
		return // sent with the filtered body
	default:
		f.mode = modePass
	}
	f.ResponseWriter.WriteHeader(code)
}

func (f *filterWriter) Write(b []byte) (int, error) {
	if f.mode == 0 {
		f.WriteHeader(http.StatusOK)
	}
	switch f.mode {
	case modeJSON:
		if f.buf.Len()+len(b) > MaxFilteredBody {
			f.mode = modeTooBig
			f.buf = bytes.Buffer{}
		} else {
			f.buf.Write(b)
		}
		return len(b), nil
	case modeTooBig:
		return len(b), nil
	case modeSSE:
		return f.sse.Write(b)
	}
	return f.ResponseWriter.Write(b)
}

// Flush passes complete events on (SSE writes them as they complete); a
// JSON answer is held until it is whole.
func (f *filterWriter) Flush() {
	if f.mode == modeJSON || f.mode == modeTooBig {
		return
	}
	_ = http.NewResponseController(f.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach deadlines of the connection.
func (f *filterWriter) Unwrap() http.ResponseWriter { return f.ResponseWriter }

// finish sends what was held back once the endpoint is done.
func (f *filterWriter) finish() {
	switch f.mode {
	case modeJSON:
		out := f.p.Body(f.buf.Bytes())
		f.Header().Set("Content-Length", fmt.Sprint(len(out)))
		f.ResponseWriter.WriteHeader(f.status)
		_, _ = f.ResponseWriter.Write(out)
	case modeTooBig:
		f.Header().Del("Content-Length")
		writeError(f.ResponseWriter, http.StatusBadGateway, mcp.InternalError(nil, "the server's answer is too large to filter its tools"))
	case modeSSE:
		_ = f.sse.Close()
	}
}
