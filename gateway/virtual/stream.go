package virtual

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// maxMessage bounds one message read from a member (a list page, a read).
const maxMessage = 32 << 20

// messages reads a member's answer message by message: the one JSON body,
// or each event of an event stream (comments, ids and priming events with
// no data are skipped).
type messages struct {
	json []byte // a JSON answer not read yet
	sse  *bufio.Reader
	done bool
	// requests, if set, gets the server requests on the stream (a legacy
	// member's); else they are dropped.
	requests func(*mcp.Message)
}

func newMessages(resp *http.Response) (*messages, error) {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mt {
	case "text/event-stream":
		return &messages{sse: bufio.NewReaderSize(io.LimitReader(resp.Body, 1<<40), 64<<10)}, nil
	case "application/json":
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxMessage))
		if err != nil {
			return nil, fmt.Errorf("reading the member's answer: %w", err)
		}
		return &messages{json: b}, nil
	}
	return nil, fmt.Errorf("the member answered HTTP %d with %q", resp.StatusCode, mt)
}

// next returns the next message, io.EOF at the end.
func (ms *messages) next() (*mcp.Message, error) {
	if ms.sse == nil {
		if ms.done || len(bytes.TrimSpace(ms.json)) == 0 {
			return nil, io.EOF
		}
		ms.done = true
		return mcp.DecodeOne(ms.json)
	}
	for {
		data, err := readEvent(ms.sse)
		if len(data) > 0 {
			m, derr := mcp.DecodeOne(data)
			if derr == nil {
				return m, nil
			}
		}
		if err != nil {
			return nil, err
		}
	}
}

// readEvent returns the data of the next event (its data lines joined).
func readEvent(br *bufio.Reader) ([]byte, error) {
	var data []byte
	lines := 0
	for {
		line, err := br.ReadBytes('\n')
		t := bytes.TrimRight(line, "\r\n")
		switch {
		case len(t) == 0 && len(line) > 0:
			if lines > 0 {
				return data, nil
			}
		case bytes.HasPrefix(t, []byte("data:")):
			if lines > 0 {
				data = append(data, '\n')
			}
			data = append(data, bytes.TrimPrefix(t[5:], []byte(" "))...)
			lines++
		}
		if err != nil {
			if errors.Is(err, io.EOF) && lines > 0 {
				return data, nil
			}
			return nil, err
		}
	}
}

// answer reads messages up to the response with id; the notifications
// before it go to each (nil: dropped).
func (ms *messages) answer(id []byte, each func(*mcp.Message)) (*mcp.Message, error) {
	key := mcp.IDKey(id)
	for {
		m, err := ms.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("the member's answer ended without a response")
			}
			return nil, fmt.Errorf("reading the member's answer: %w", err)
		}
		if m.Kind == mcp.KindResponse && m.Key() == key {
			return m, nil
		}
		switch {
		case m.Kind == mcp.KindNotification && each != nil:
			each(m)
		case m.Kind == mcp.KindRequest && ms.requests != nil:
			ms.requests(m)
		}
	}
}

// sseWriter writes events to a client's stream, flushing each.
type sseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func newSSE(w http.ResponseWriter, status int) *sseWriter {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	s := &sseWriter{w: w, rc: http.NewResponseController(w)}
	_ = s.rc.Flush()
	return s
}

func (s *sseWriter) send(msg []byte) error {
	var b bytes.Buffer
	b.WriteString("event: message\ndata: ")
	if bytes.ContainsAny(msg, "\r\n") {
		// One data line: line breaks of JSON are only space.
		if err := compact(&b, msg); err != nil {
			return err
		}
	} else {
		b.Write(msg)
	}
	b.WriteString("\n\n")
	if _, err := s.w.Write(b.Bytes()); err != nil {
		return err
	}
	return s.rc.Flush()
}
