package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
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

// filterMessage returns the message with disallowed tools removed and true
// when raw is a successful response to one of the tools/list requests.
func (f *toolFilter) filterMessage(raw []byte) ([]byte, bool) {
	var msg map[string]json.RawMessage
	if json.Unmarshal(raw, &msg) != nil {
		return nil, false
	}
	if len(msg["result"]) == 0 {
		return nil, false
	}
	var result map[string]json.RawMessage
	if json.Unmarshal(msg["result"], &result) != nil {
		return nil, false
	}
	var tools []json.RawMessage
	if json.Unmarshal(result["tools"], &tools) != nil {
		return nil, false
	}
	kept := make([]json.RawMessage, 0, len(tools))
	for _, t := range tools {
		var named struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(t, &named) == nil && f.allow(named.Name) {
			kept = append(kept, t)
		}
	}
	var err error
	if result["tools"], err = json.Marshal(kept); err != nil {
		return nil, false
	}
	if msg["result"], err = json.Marshal(result); err != nil {
		return nil, false
	}
	out, err := json.Marshal(msg)
	if err != nil {
		return nil, false
	}
	return out, true
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
			b.Write(out)
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
