package stdio

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// fakeProcess is an in-memory MCP server process: the test plays the server.
type fakeProcess struct {
	stdinR  *io.PipeReader
	stdinW  *io.PipeWriter
	stdoutR *io.PipeReader
	stdoutW *io.PipeWriter
	done    chan struct{}
	once    sync.Once
	exited  sync.Once
	stops   atomic.Int32  // calls of Stop
	pinged  chan struct{} // closed when fakeServer first answers ping
	pingOne sync.Once
}

func newFakeProcess() *fakeProcess {
	p := &fakeProcess{done: make(chan struct{}), pinged: make(chan struct{})}
	p.stdinR, p.stdinW = io.Pipe()
	p.stdoutR, p.stdoutW = io.Pipe()
	return p
}

func (p *fakeProcess) Label() string         { return "fake" }
func (p *fakeProcess) Stdin() io.WriteCloser { return p.stdinW }
func (p *fakeProcess) Stdout() io.ReadCloser { return p.stdoutR }
func (p *fakeProcess) Done() <-chan struct{} { return p.done }
func (p *fakeProcess) ExitStatus() string    { return "exit status 0" }
func (p *fakeProcess) Stop() {
	p.stops.Add(1)
	p.once.Do(func() {
		p.stdinW.Close()
		p.stdoutW.Close()
		p.exit()
	})
}

// exit is the process ending by itself.
func (p *fakeProcess) exit() { p.exited.Do(func() { close(p.done) }) }

// fakeServer answers initialize and ping and hands every other line to the
// test.
func fakeServer(p *fakeProcess) <-chan *mcp.Message {
	return fakeServerVersion(p, api.MCPVersion20250618)
}

// fakeServerVersion is fakeServer answering initialize with version.
func fakeServerVersion(p *fakeProcess, version string) <-chan *mcp.Message {
	lines := make(chan *mcp.Message, 16)
	go func() {
		sc := bufio.NewScanner(p.stdinR)
		for sc.Scan() {
			m, err := mcp.DecodeOne(append([]byte(nil), sc.Bytes()...)) // the scanner reuses its buffer
			if err != nil {
				continue
			}
			switch m.Method {
			case "initialize":
				_, _ = io.WriteString(p.stdoutW, `{"jsonrpc":"2.0","id":`+string(m.ID)+`,"result":{"protocolVersion":"`+version+`","capabilities":{},"serverInfo":{"name":"fake","version":"1"}}}`+"\n")
			case "notifications/initialized":
			case "ping":
				_, _ = io.WriteString(p.stdoutW, `{"jsonrpc":"2.0","id":`+string(m.ID)+`,"result":{}}`+"\n")
				p.pingOne.Do(func() { close(p.pinged) })
			default:
				lines <- m
			}
		}
	}()
	return lines
}

func nextLine(t *testing.T, ch <-chan *mcp.Message) *mcp.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("the server got nothing")
	}
	return nil
}

// In shared mode the bytes the server sees carry rewritten ids and progress
// tokens, a cancellation names the rewritten id, and the client gets its own
// ids and tokens back.
func TestSharedModeRewritesAtTheByteLevel(t *testing.T) {
	t.Parallel()
	proc := newFakeProcess()
	lines := fakeServer(proc)
	var starts atomic.Int32
	b := newBridge(t, func(c *Config) {
		c.Shared = true
		c.Health.Succeeded() // no readiness probe: the one process is the shared one
		c.Starter = StarterFunc(func(context.Context, string) (Process, error) {
			if starts.Add(1) > 1 {
				return nil, errors.New("only one shared process expected")
			}
			return proc, nil
		})
	})
	v := api.MCPVersion20250618
	sid := rawSession(t, b.URL, v)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.URL, strings.NewReader(
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":"mine"}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("MCP-Protocol-Version", v)
	respc := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			respc <- resp
		}
	}()

	call := nextLine(t, lines)
	require.Equal(t, "tools/call", call.Method)
	assert.NotEqual(t, "1", string(call.ID), "ids are rewritten")
	tok := mcp.ProgressToken(call.Params)
	assert.NotEqual(t, `"mine"`, string(tok), "progress tokens are rewritten")

	// The server reports progress and answers, in its own ids and tokens.
	_, _ = io.WriteString(proc.stdoutW, `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":`+string(tok)+`,"progress":1}}`+"\n")
	_, _ = io.WriteString(proc.stdoutW, `{"jsonrpc":"2.0","id":`+string(call.ID)+`,"result":{"content":[]}}`+"\n")
	var resp *http.Response
	select {
	case resp = <-respc:
	case <-time.After(10 * time.Second):
		t.Fatal("no answer")
	}
	defer resp.Body.Close()
	events := sseEvents(t, resp)
	progress := next(t, events)
	assert.Contains(t, progress[1], `"progressToken":"mine"`)
	answer := next(t, events)
	var got struct {
		ID json.RawMessage `json:"id"`
	}
	require.NoError(t, json.Unmarshal([]byte(answer[1]), &got))
	assert.Equal(t, "1", string(got.ID))

	// Cancelling a request in flight names the rewritten id.
	two := mustPost(t, b.URL, sid, v, `{"jsonrpc":"2.0","id":"two","method":"tools/call","params":{"name":"y"}}`)
	go func() {
		if resp, err := http.DefaultClient.Do(two); err == nil {
			resp.Body.Close()
		}
	}()
	second := nextLine(t, lines)
	require.Equal(t, 202, rawPost(t, b.URL, sid, v, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"two","reason":"bored"}}`).status)
	cancelled := nextLine(t, lines)
	require.Equal(t, "notifications/cancelled", cancelled.Method)
	var params struct {
		RequestID json.RawMessage `json:"requestId"`
		Reason    string          `json:"reason"`
	}
	require.NoError(t, json.Unmarshal(cancelled.Params, &params))
	assert.Equal(t, mcp.IDKey(second.ID), mcp.IDKey(params.RequestID))
	assert.Equal(t, "bored", params.Reason)
}

func mustPost(t *testing.T, url, sid, version, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("MCP-Protocol-Version", version)
	return req
}
