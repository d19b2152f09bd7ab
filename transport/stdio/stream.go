package stdio

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxStreamEvents bounds the replay buffer of one SSE stream (resumption
// with Last-Event-ID can go back at most this many events).
const maxStreamEvents = 256

type event struct {
	seq      int
	data     []byte
	response bool
}

// stream is the ordered log of messages for one logical SSE stream: a
// POST's answer, or the session's standalone GET stream. HTTP handlers
// follow it with a cursor, so a live connection and a resumed one (GET with
// Last-Event-ID) are served the same way.
type stream struct {
	id  int
	sse bool // the client accepts text/event-stream for this stream

	mu      sync.Mutex
	events  []event // the last maxStreamEvents events
	bytes   int     // of the data in events
	nextSeq int     // seq of the next event; seqs start at 1
	want    int     // responses still owed (POST streams)
	done    bool
	changed chan struct{} // closed and replaced on every change
	sent    int           // highest seq written to any connection
	detach  func()        // stops the currently attached writer
	// pushed counts the bytes ever pushed, also into owner (the session's
	// bound on what its POST streams retain); owner may be nil.
	pushed int
	owner  *atomic.Int64
}

func newStream(id, want int, sse bool) *stream {
	return &stream{id: id, want: want, sse: sse, nextSeq: 1, changed: make(chan struct{})}
}

func (s *stream) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// push appends a message; a response counts against want and completes the
// stream when nothing more is owed. It reports false if the stream is done.
func (s *stream) push(data []byte, response bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return false
	}
	s.events = append(s.events, event{seq: s.nextSeq, data: data, response: response})
	s.bytes += len(data)
	s.pushed += len(data)
	if s.owner != nil {
		s.owner.Add(int64(len(data)))
	}
	s.nextSeq++
	if drop := len(s.events) - maxStreamEvents; drop > 0 {
		for _, e := range s.events[:drop] {
			s.bytes -= len(e.data)
		}
		s.events = s.events[drop:]
	}
	if response {
		s.want--
		if s.want <= 0 && s.id != standaloneID {
			s.done = true
		}
	}
	s.notifyLocked()
	return true
}

// pushedBytes is the size of everything ever pushed (at least retained).
func (s *stream) pushedBytes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pushed
}

// retained is the size of the events kept for replay.
func (s *stream) retained() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// forget drops one owed response (its request was cancelled); the stream
// completes when nothing more is owed.
func (s *stream) forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	s.want--
	if s.want <= 0 && s.id != standaloneID {
		s.done = true
	}
	s.notifyLocked()
}

// finish marks the stream complete (session ended).
func (s *stream) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done {
		s.done = true
		s.notifyLocked()
	}
}

// isOpen reports whether messages may still be pushed.
func (s *stream) isOpen() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.done
}

// after returns the events with seq > cursor, whether the stream is done,
// and a channel closed on the next change.
func (s *stream) after(cursor int) ([]event, bool, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []event
	for _, e := range s.events {
		if e.seq > cursor {
			out = append(out, e)
		}
	}
	return out, s.done, s.changed
}

// attach makes the caller the stream's only writer; the previous one (a
// dropped connection the server has not noticed yet) is told to stop.
func (s *stream) attach(stop func()) {
	s.mu.Lock()
	prev := s.detach
	s.detach = stop
	s.mu.Unlock()
	if prev != nil {
		prev()
	}
}

func (s *stream) markSent(seq int) {
	s.mu.Lock()
	if seq > s.sent {
		s.sent = seq
		s.notifyLocked()
	}
	s.mu.Unlock()
}

// lastSeq is the seq of the newest event (0 if none).
func (s *stream) lastSeq() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextSeq - 1
}

// waitSent waits until event seq was written to a connection, or timeout.
func (s *stream) waitSent(seq int, timeout time.Duration) {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		sent, ch := s.sent, s.changed
		s.mu.Unlock()
		if sent >= seq {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			return
		}
	}
}

// fullySent reports whether the stream is complete and every event of it
// was written to a connection.
func (s *stream) fullySent() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done && s.sent >= s.nextSeq-1
}

func (s *stream) sentSeq() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// standaloneID is the stream id of the GET stream.
const standaloneID = 0

// parseEventID parses "<stream>-<seq>".
func parseEventID(s string) (streamID, seq int, ok bool) {
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	x, err1 := strconv.Atoi(a)
	y, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || x < 0 || y < 0 {
		return 0, 0, false
	}
	return x, y, true
}

// sseWriter writes SSE events and flushes each one immediately. Each event
// is put together in a pooled buffer and written at once: no formatting,
// one write into the response per event.
type sseWriter struct {
	w http.ResponseWriter
	f *http.ResponseController
}

// Header values of event streams, shared (nothing writes to a header's
// value slice).
var (
	sseContentType  = []string{"text/event-stream"}
	sseCacheControl = []string{"no-cache, no-transform"}
	sseNoBuffering  = []string{"no"}
)

func startSSE(w http.ResponseWriter, status int) *sseWriter {
	h := w.Header()
	h["Content-Type"] = sseContentType
	h["Cache-Control"] = sseCacheControl
	h["X-Accel-Buffering"] = sseNoBuffering
	w.WriteHeader(status)
	sw := &sseWriter{w: w, f: http.NewResponseController(w)}
	_ = sw.f.Flush()
	return sw
}

// eventBufs recycles the buffers events are put together in.
var eventBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// write sends one event with the id "<stream>-<seq>". data must not
// contain newlines (stdio messages never do: the stdio transport is
// newline-delimited).
func (sw *sseWriter) write(streamID, seq int, data []byte) error {
	return sw.send(true, func(b []byte) []byte {
		b = append(b, "id: "...)
		b = appendEventID(b, streamID, seq)
		b = append(b, "\nevent: message\ndata: "...)
		b = append(b, data...)
		return append(b, "\n\n"...)
	})
}

// writeData sends one event without an id: 2026-07-28 streams are not
// resumable. Unless flush, it goes with what follows (the end of the
// response: one write for both).
func (sw *sseWriter) writeData(data []byte, flush bool) error {
	return sw.send(flush, func(b []byte) []byte {
		b = append(b, "event: message\ndata: "...)
		b = append(b, data...)
		return append(b, "\n\n"...)
	})
}

// keepAlive writes an SSE comment: it keeps idle proxies from cutting the
// stream and lets us notice a client that vanished without closing TCP.
func (sw *sseWriter) keepAlive() error {
	if _, err := io.WriteString(sw.w, ": keep-alive\n\n"); err != nil {
		return fmt.Errorf("writing keep-alive: %w", err)
	}
	return sw.f.Flush()
}

// prime sends the priming event (2025-11-25): an id with empty data, so the
// client can reconnect even before the first real message.
func (sw *sseWriter) prime(streamID, seq int) error {
	return sw.send(true, func(b []byte) []byte {
		b = append(b, "id: "...)
		b = appendEventID(b, streamID, seq)
		return append(b, "\ndata:\n\n"...)
	})
}

// send writes the event build puts together, and flushes it if asked.
func (sw *sseWriter) send(flush bool, build func([]byte) []byte) error {
	bp := eventBufs.Get().(*[]byte)
	b := build((*bp)[:0])
	_, err := sw.w.Write(b)
	if cap(b) <= 64<<10 { // a huge result's buffer is left to the collector
		*bp = b
		eventBufs.Put(bp)
	}
	if err != nil {
		return fmt.Errorf("writing event: %w", err)
	}
	if !flush {
		return nil
	}
	if err := sw.f.Flush(); err != nil {
		return fmt.Errorf("flushing event: %w", err)
	}
	return nil
}

func appendEventID(b []byte, streamID, seq int) []byte {
	b = strconv.AppendInt(b, int64(streamID), 10)
	b = append(b, '-')
	return strconv.AppendInt(b, int64(seq), 10)
}

// heartbeat is the one clock of every stream's keep-alives: its channel is
// closed and replaced every interval, so a waiting stream needs no timer of
// its own (10,000 idle streams, 10,000 tickers otherwise).
type heartbeat struct {
	mu sync.Mutex
	ch chan struct{}
}

func newHeartbeat() *heartbeat { return &heartbeat{ch: make(chan struct{})} }

// beat is closed at the next beat; fetch it again after each.
func (h *heartbeat) beat() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ch
}

// run beats every interval until stop is closed.
func (h *heartbeat) run(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			h.mu.Lock()
			close(h.ch)
			h.ch = make(chan struct{})
			h.mu.Unlock()
		}
	}
}
