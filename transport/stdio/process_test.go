package stdio

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// Non-JSON-RPC stdout lines (banners) are skipped; a message with a CR
// between tokens is compacted so it cannot break an SSE data line; the exit
// status is reported after stdout ends.
func TestConnReadLoop(t *testing.T) {
	t.Parallel()
	s := &ExecStarter{Command: []string{"sh", "-c", `printf 'Starting server...\n{"jsonrpc":"2.0",\r"method":"notifications/message","params":{}}\n\n'; exit 2`}, Stderr: io.Discard}
	p, err := s.Start(context.Background(), "t")
	require.NoError(t, err)
	c := newConn(p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	msgs := make(chan *mcp.Message, 4)
	exit := make(chan string, 1)
	go c.readLoop(func(m *mcp.Message) { msgs <- m }, func(st string) { exit <- st })
	select {
	case st := <-exit:
		assert.Equal(t, "exit status 2", st)
	case <-time.After(10 * time.Second):
		t.Fatal("no exit")
	}
	require.Len(t, msgs, 1)
	m := <-msgs
	assert.Equal(t, mcp.KindNotification, m.Kind)
	assert.NotContains(t, string(m.Raw), "\r")
}

func TestAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		accept    []string
		json, sse bool
	}{
		{nil, true, true},
		{[]string{"application/json, text/event-stream"}, true, true},
		{[]string{"application/json"}, true, false},
		{[]string{"text/event-stream;q=0.9"}, false, true},
		{[]string{"*/*"}, true, true},
		{[]string{"text/html"}, false, false},
		{[]string{"application/json", "text/event-stream"}, true, true},
	}
	for _, tt := range tests {
		r := httptestRequest(tt.accept)
		j, s := accepts(r)
		assert.Equal(t, tt.json, j, "%v", tt.accept)
		assert.Equal(t, tt.sse, s, "%v", tt.accept)
	}
}

func TestParseEventID(t *testing.T) {
	t.Parallel()
	id, seq, ok := parseEventID(string(appendEventID(nil, 3, 14)))
	assert.True(t, ok)
	assert.Equal(t, 3, id)
	assert.Equal(t, 14, seq)
	for _, bad := range []string{"", "3", "a-1", "1-b", "-1-2"} {
		_, _, ok := parseEventID(bad)
		assert.False(t, ok, bad)
	}
}

// A message keeps its id and params after the lines that follow it: the
// decoder's fields are slices of what it decoded, and the read buffer is
// reused (each line comes in a read of its own here).
func TestConnReadLoopMessagesOwnTheirBytes(t *testing.T) {
	t.Parallel()
	s := &ExecStarter{Command: []string{"sh", "-c", `for i in 1 2 3 4 5 6 7 8; do printf '{"jsonrpc":"2.0","id":"req-%s","method":"elicitation/create","params":{"n":"%s%s%s"}}\n' $i $i $i $i; sleep 0.02; done`}, Stderr: io.Discard}
	p, err := s.Start(context.Background(), "t")
	require.NoError(t, err)
	c := newConn(p, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var got []*mcp.Message
	exit := make(chan string, 1)
	go c.readLoop(func(m *mcp.Message) { got = append(got, m) }, func(st string) { exit <- st })
	<-exit
	require.Len(t, got, 8)
	for i, m := range got {
		n := strconv.Itoa(i + 1)
		assert.Equal(t, `"req-`+n+`"`, string(m.ID))
		assert.Equal(t, `{"n":"`+n+n+n+`"}`, string(m.Params))
	}
}

func TestStreamBufferIsBounded(t *testing.T) {
	t.Parallel()
	st := newStream(standaloneID, 0, true)
	for range maxStreamEvents + 10 {
		require.True(t, st.push([]byte(`{}`), false))
	}
	evs, done, _ := st.after(0)
	assert.False(t, done)
	require.Len(t, evs, maxStreamEvents)
	assert.Equal(t, 11, evs[0].seq, "oldest events are dropped")
}

func TestSessionPrunesOnlyFinishedStreams(t *testing.T) {
	t.Parallel()
	s := &session{streams: map[int]*stream{}}
	stuck := newStream(1, 1, true) // its request is never answered
	s.streams[1], s.order = stuck, []int{1}
	for id := 2; id <= maxDoneStreams+10; id++ {
		st := newStream(id, 1, true)
		st.finish()
		s.streams[id] = st
		s.order = append(s.order, id)
		s.pruneLocked()
	}
	assert.Len(t, s.order, maxDoneStreams)
	assert.Contains(t, s.streams, 1, "open streams stay resumable")
	assert.Contains(t, s.streams, maxDoneStreams+10, "newest streams stay")
	assert.NotContains(t, s.streams, 2)
}

func TestSessionPrunesFinishedStreamsByBytes(t *testing.T) {
	t.Parallel()
	s := &session{streams: map[int]*stream{}}
	big := make([]byte, 1<<20) // a 1 MiB tool result
	for id := 1; id <= 10; id++ {
		st := newStream(id, 1, true)
		st.owner = &s.pushed // as begin does
		require.True(t, st.push(big, true), "the result finishes the stream")
		if id != 2 { // stream 2's client lost its connection mid-result
			st.markSent(1)
		}
		s.streams[id] = st
		s.order = append(s.order, id)
		s.pruneLocked()
	}
	assert.Equal(t, []int{2, 7, 8, 9, 10}, s.order,
		"at most maxDoneBytes of delivered streams, newest kept; an undelivered result stays for resumption")
	for _, id := range []int{1, 3, 4, 5, 6} {
		assert.NotContains(t, s.streams, id)
	}
}

func TestStreamCountsRetainedBytes(t *testing.T) {
	t.Parallel()
	st := newStream(standaloneID, 0, true)
	for range maxStreamEvents + 5 {
		require.True(t, st.push([]byte(`{"x":1}`), false))
	}
	assert.Equal(t, maxStreamEvents*len(`{"x":1}`), st.retained(), "dropped events are not counted")
}
