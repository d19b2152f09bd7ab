package toolfilter

import (
	"io"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newFilter() *Policy { return New([]string{"echo"}) }

// modernListResult is a 2026-07-28 tools/list answer.
const modernListResult = `{"jsonrpc":"2.0","id":"a","result":{"resultType":"complete","tools":[{"name":"echo", "inputSchema":{"type":"object"}},{"name":"secret"}],` +
	`"ttlMs":6e4,"cacheScope":"public","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"s"}}}}`

const listResult = `{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"echo"},{"name":"secret"}],"nextCursor":"c"}}`

func TestFilterBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"single", listResult, `{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"echo"}],"nextCursor":"c"}}`},
		{"batch", `[` + listResult + `,{"jsonrpc":"2.0","id":8,"result":{}}]`,
			`[{"jsonrpc":"2.0","id":7,"result":{"tools":[{"name":"echo"}],"nextCursor":"c"}},{"jsonrpc":"2.0","id":8,"result":{}}]`},
		// A resumed stream carries answers to requests of a lost POST: any
		// result.tools is filtered, whatever its id.
		{"any id is filtered", strings.Replace(listResult, `"id":7`, `"id":8`, 1), `{"jsonrpc":"2.0","id":8,"result":{"tools":[{"name":"echo"}],"nextCursor":"c"}}`},
		// Only the array changes: a 2026-07-28 result's other fields, their
		// order and spelling, and each kept tool pass as the pod wrote them.
		{"modern result", modernListResult, `{"jsonrpc":"2.0","id":"a","result":{"resultType":"complete","tools":[{"name":"echo", "inputSchema":{"type":"object"}}],` +
			`"ttlMs":6e4,"cacheScope":"public","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"s"}}}}`},
		{"nothing hidden", `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"}]}}`, `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"}]}}`},
		{"a tool without a plain name is hidden", `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"Name":"echo"},{"name":"echo","NAME":"secret"},{"name":7}]}}`,
			`{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}`},
		{"an ambiguous answer becomes an error", `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"}],"Tools":[{"name":"secret"}]}}`,
			`{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"the server's tool list has keys differing only in case"}}`},
		{"duplicate result", `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"secret"}]},"result":{"tools":[{"name":"echo"}]}}`,
			`{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"the server's tool list has keys differing only in case"}}`},
		{"error untouched", `{"jsonrpc":"2.0","id":7,"error":{"code":1,"message":"x"}}`, `{"jsonrpc":"2.0","id":7,"error":{"code":1,"message":"x"}}`},
		{"not json untouched", `nope`, `nope`},
		// 2026-07-28: caching hints and resultType stay on the filtered list.
		{"stateless era result fields kept",
			`{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","tools":[{"name":"secret"},{"name":"echo","inputSchema":{"type":"object"}}],"ttlMs":300000,"cacheScope":"public"}}`,
			`{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","tools":[{"name":"echo","inputSchema":{"type":"object"}}],"ttlMs":300000,"cacheScope":"public"}}`},
		{"tools that is not a list untouched", `{"jsonrpc":"2.0","id":1,"result":{"tools":{}}}`, `{"jsonrpc":"2.0","id":1,"result":{"tools":{}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, string(newFilter().Body([]byte(tt.in))))
		})
	}
}

func TestCopySSE(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		filter         *Policy
	}{
		{
			name:   "filtered event keeps its id and event fields",
			in:     "event: message\nid: 3\ndata: " + listResult + "\n\n",
			want:   "event: message\nid: 3\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"tools\":[{\"name\":\"echo\"}],\"nextCursor\":\"c\"}}\n\n",
			filter: newFilter(),
		},
		{
			name:   "multi-line data and CRLF",
			in:     ": ping\r\n\r\ndata: {\"jsonrpc\":\"2.0\",\r\ndata: \"id\":\"x\",\"result\":{\"tools\":[{\"name\":\"secret\"}]}}\r\n\r\n",
			want:   ": ping\r\n\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":{\"tools\":[]}}\n\n",
			filter: newFilter(),
		},
		{
			name: "modern result on a stream",
			in:   "data: " + modernListResult + "\n\n",
			want: "data: " + strings.Replace(modernListResult, `,{"name":"secret"}`, "", 1) + "\n\n", filter: newFilter(),
		},
		{
			name:   "other events pass byte for byte",
			in:     "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\nretry: 10\n\n",
			want:   "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\nretry: 10\n\n",
			filter: newFilter(),
		},
		{
			name: "truncated stream passes what came",
			in:   "data: {\"a\":1}\n\ndata: partial",
			want: "data: {\"a\":1}\n\ndata: partial", filter: newFilter(),
		},
		{name: "no filter", in: "data: " + listResult + "\n\n", want: "data: " + listResult + "\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			require.NoError(t, CopySSE(rec, iotest.OneByteReader(strings.NewReader(tt.in)), tt.filter))
			assert.Equal(t, tt.want, rec.Body.String())
			assert.True(t, rec.Flushed)
		})
	}
}

// No policy: every byte as it came, also what looks like a tools list.
// flushRecorder notes whether it was flushed before any body was written.
type flushRecorder struct {
	httptest.ResponseRecorder
	flushedEarly atomic.Bool
	wrote        atomic.Bool
}

func (f *flushRecorder) Write(b []byte) (int, error) { f.wrote.Store(true); return len(b), nil }
func (f *flushRecorder) Flush() {
	if !f.wrote.Load() {
		f.flushedEarly.Store(true)
	}
}

// A stream that says nothing yet still has its headers sent at once, with
// and without a filter: an SDK client waits for them.
func TestCopySSEFlushesHeadersOfASilentStream(t *testing.T) {
	t.Parallel()
	for _, p := range []*Policy{nil, newFilter()} {
		pr, pw := io.Pipe()
		w := &flushRecorder{ResponseRecorder: *httptest.NewRecorder()}
		done := make(chan error, 1)
		go func() { done <- CopySSE(w, pr, p) }()
		assert.Eventually(t, w.flushedEarly.Load, 5*time.Second, time.Millisecond, "headers flushed before any event (filter %v)", p.Active())
		require.NoError(t, pw.Close())
		require.NoError(t, <-done)
	}
}

func TestNilPolicyAllowsEverything(t *testing.T) {
	t.Parallel()
	var p *Policy
	assert.False(t, p.Active())
	assert.True(t, p.Allows("anything"))
	assert.Equal(t, listResult, string(p.Body([]byte(listResult))))
	empty := New([]string{})
	assert.True(t, empty.Active())
	assert.False(t, empty.Allows("echo"), "an empty allow-list allows nothing")
}
