package toolfilter

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
)

// SSEWriter rewrites an event stream event by event: the data of an event
// that carries a result.tools list is filtered (Body's rules), every other
// event, comment line and event id passes byte for byte, so resumption
// (Last-Event-ID) keeps working. Bytes are held only until their event is
// complete; Close writes what is left of a stream that ended mid-event.
type SSEWriter struct {
	w io.Writer
	p *Policy
	// pending is the start of an event not complete yet; scanned is how
	// far it has been searched for the blank line that ends it.
	pending []byte
	scanned int
}

// NewSSEWriter writes the filtered stream to w.
func (p *Policy) NewSSEWriter(w io.Writer) *SSEWriter { return &SSEWriter{w: w, p: p} }

// Write takes the next bytes of the stream and writes every event they
// complete.
func (s *SSEWriter) Write(b []byte) (int, error) {
	if !s.p.Active() {
		return s.w.Write(b)
	}
	s.pending = append(s.pending, b...)
	for {
		end := s.eventEnd()
		if end < 0 {
			return len(b), nil
		}
		if _, err := s.w.Write(s.p.event(s.pending[:end])); err != nil {
			return len(b), err
		}
		n := copy(s.pending, s.pending[end:])
		s.pending, s.scanned = s.pending[:n], 0
	}
}

// eventEnd is the offset just past the blank line that ends the first
// event of pending, or -1. Lines end with LF (CRLF included).
func (s *SSEWriter) eventEnd() int {
	for {
		i := bytes.IndexByte(s.pending[s.scanned:], '\n')
		if i < 0 {
			return -1
		}
		line := bytes.TrimRight(s.pending[s.scanned:s.scanned+i], "\r")
		s.scanned += i + 1
		if len(line) == 0 {
			return s.scanned
		}
	}
}

// Close writes the bytes of an unfinished last event as they came.
func (s *SSEWriter) Close() error {
	if len(s.pending) == 0 {
		return nil
	}
	_, err := s.w.Write(s.pending)
	s.pending, s.scanned = s.pending[:0], 0
	return err
}

// event returns one complete event (its final blank line included), its
// data filtered when it is a tools list: the other fields as they were,
// then one data line.
func (p *Policy) event(ev []byte) []byte {
	var data []byte
	lines := 0
	for _, l := range bytes.SplitAfter(ev, []byte("\n")) {
		t := bytes.TrimRight(l, "\r\n")
		if v, ok := bytes.CutPrefix(t, []byte("data:")); ok {
			if lines > 0 {
				data = append(data, '\n')
			}
			data = append(data, bytes.TrimPrefix(v, []byte(" "))...)
			lines++
		}
	}
	if lines == 0 {
		return ev
	}
	out, ok := p.message(data)
	if !ok {
		return ev
	}
	var b bytes.Buffer
	for _, l := range bytes.SplitAfter(ev, []byte("\n")) {
		t := bytes.TrimRight(l, "\r\n")
		if len(t) == 0 || bytes.HasPrefix(t, []byte("data:")) {
			continue
		}
		b.Write(l)
	}
	b.WriteString("data: ")
	if bytes.ContainsAny(out, "\r\n") {
		// Line breaks of a multi-line data field are JSON space: one data
		// line must have none.
		_ = json.Compact(&b, out)
	} else {
		b.Write(out)
	}
	b.WriteString("\n\n")
	return b.Bytes()
}

// CopySSE passes an event stream from body to w, flushing after every
// read so each event reaches the client at once; with an active policy
// the events are filtered on the way (SSEWriter). The status and headers
// are flushed first: a stream may stay silent for long (a session's GET
// stream until the server has something to say), and a client waits for
// its headers before it goes on.
func CopySSE(w http.ResponseWriter, body io.Reader, p *Policy) error {
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	var out io.Writer = w
	var sse *SSEWriter
	if p.Active() {
		sse = p.NewSSEWriter(w)
		out = sse
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := out.Write(buf[:n]); werr != nil {
				return werr
			}
			_ = rc.Flush()
		}
		if err != nil {
			if sse != nil { // a stream that ended mid-event: pass what came
				if cerr := sse.Close(); cerr != nil {
					return cerr
				}
				_ = rc.Flush()
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// bufPool recycles copy buffers: one per proxied response would otherwise
// be a large allocation (and zeroing) on every request.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// CopyBuffer copies body to w with a pooled buffer (responses that need
// no filtering and no per-event flushing).
func CopyBuffer(w io.Writer, body io.Reader) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	_, err := io.CopyBuffer(w, body, *bp)
	return err
}
