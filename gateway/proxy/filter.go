package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// toolFilter hides tools a pod's allow-list does not name from every
// response that carries a result.tools list, on any stream: a tools/list
// answer can also arrive on a GET stream that resumes (Last-Event-ID) a
// POST the client lost, where no request id is known.
type toolFilter struct {
	allow func(string) bool
}

func (f *toolFilter) active() bool { return f != nil }

// filterBody rewrites a JSON body: one message or a batch.
func (f *toolFilter) filterBody(body []byte) []byte {
	t := bytes.TrimSpace(body)
	if len(t) > 0 && t[0] == '[' {
		var msgs []json.RawMessage
		if json.Unmarshal(t, &msgs) != nil {
			return body
		}
		changed := false
		for i, m := range msgs {
			if out, ok := f.filterMessage(m); ok {
				msgs[i], changed = out, true
			}
		}
		if !changed {
			return body
		}
		out, err := json.Marshal(msgs)
		if err != nil {
			return body
		}
		return out
	}
	if out, ok := f.filterMessage(t); ok {
		return out
	}
	return body
}

// filterMessage returns raw with the tools the allow-list hides removed
// from result.tools, and true, when raw is a successful response carrying
// a tool list. Only that array is rewritten: everything else the pod wrote
// (a 2026-07-28 result's resultType, ttlMs, cacheScope and _meta,
// nextCursor, key order, number spelling) passes as it was.
func (f *toolFilter) filterMessage(raw []byte) ([]byte, bool) {
	tools := mcp.Lookup(raw, "result", "tools")
	if len(tools) == 0 || tools[0] != '[' || !json.Valid(raw) {
		return nil, false
	}
	// A reader that matches keys another way (case, first of duplicates)
	// could see tools this filter did not: such an answer does not pass.
	if foldCollision(raw) != "" || foldCollision(mcp.Lookup(raw, "result")) != "" {
		return mcp.ErrorResponse(mcp.Lookup(raw, "id"), mcp.CodeInternalError,
			"the server's tool list has keys differing only in case", nil), true
	}
	var list []json.RawMessage
	if json.Unmarshal(tools, &list) != nil {
		return nil, false
	}
	kept := make([]byte, 0, len(tools))
	kept = append(kept, '[')
	for _, t := range list {
		if !f.allowed(t) {
			continue
		}
		if len(kept) > 1 {
			kept = append(kept, ',')
		}
		kept = append(kept, t...)
	}
	kept = append(kept, ']')
	out, err := mcp.Set(raw, kept, "result", "tools")
	if err != nil {
		return nil, false
	}
	return out, true
}

// allowed reports whether the tool definition t names an allowed tool
// unambiguously; anything else is hidden.
func (f *toolFilter) allowed(t json.RawMessage) bool {
	var name string
	if foldCollision(t) != "" || json.Unmarshal(mcp.Lookup(t, "name"), &name) != nil {
		return false
	}
	return f.allow(name)
}

// copySSE passes an event stream through event by event, flushing after
// each, and rewrites the data of events that answer a tools/list request
// when a filter is active. Comment lines and event ids pass untouched so
// resumption (Last-Event-ID) keeps working.
func copySSE(w http.ResponseWriter, body io.Reader, f *toolFilter) error {
	rc := http.NewResponseController(w)
	if !f.active() {
		return copyFlushing(w, rc, body)
	}
	br := bufio.NewReaderSize(body, 64<<10)
	var event, data []byte
	var dataLines int
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			event = append(event, line...)
			trimmed := bytes.TrimRight(line, "\r\n")
			switch {
			case len(trimmed) == 0: // end of event
				if err := writeEvent(w, rc, event, data, dataLines, f); err != nil {
					return err
				}
				event, data, dataLines = event[:0], data[:0], 0
			case bytes.HasPrefix(trimmed, []byte("data:")):
				v := bytes.TrimPrefix(trimmed[5:], []byte(" "))
				if dataLines > 0 {
					data = append(data, '\n')
				}
				data = append(data, v...)
				dataLines++
			}
		}
		if err != nil {
			if len(event) > 0 { // stream ended mid-event: pass what came
				if _, werr := w.Write(event); werr != nil {
					return werr
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

func writeEvent(w http.ResponseWriter, rc *http.ResponseController, event, data []byte, dataLines int, f *toolFilter) error {
	if dataLines > 0 {
		if out, ok := f.filterMessage(data); ok {
			// Rebuild the event: other fields as they were, one data line.
			var b bytes.Buffer
			for _, l := range bytes.SplitAfter(event, []byte("\n")) {
				t := bytes.TrimRight(l, "\r\n")
				if len(t) == 0 || bytes.HasPrefix(t, []byte("data:")) {
					continue
				}
				b.Write(l)
			}
			b.WriteString("data: ")
			if bytes.ContainsAny(out, "\r\n") {
				// Line breaks of a multi-line data field are JSON space:
				// one data line must have none.
				_ = json.Compact(&b, out)
			} else {
				b.Write(out)
			}
			b.WriteString("\n\n")
			event = b.Bytes()
		}
	}
	if _, err := w.Write(event); err != nil {
		return err
	}
	_ = rc.Flush()
	return nil
}

// bufPool recycles copy buffers: one per proxied response would otherwise
// be a large allocation (and zeroing) on every request.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyFlushing copies and flushes after every read, so each event the pod
// writes reaches the client at once, without parsing.
func copyFlushing(w io.Writer, rc *http.ResponseController, body io.Reader) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			_ = rc.Flush()
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
