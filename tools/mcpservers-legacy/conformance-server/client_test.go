package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// childEnv makes the test binary run the server instead of the tests: the
// tests speak to a real stdio process without building one.
const childEnv = "CONFORMANCE_SERVER_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(childEnv); ok {
		if err := run(strings.Fields(args)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// waitFor bounds every wait for the server; a server that never sends what
// a test expects fails the test instead of hanging it.
const waitFor = 10 * time.Second

// message is any JSON-RPC message, as the wire has it.
type message struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`

	answered int64 // how many answers the client had written when it read this
}

// rawClient speaks newline-delimited JSON-RPC to a server process, as a
// bridge does, so tests see the server's messages byte for byte.
type rawClient struct {
	t       *testing.T
	stdin   io.WriteCloser
	wmu     sync.Mutex
	nextID  atomic.Int64
	written atomic.Int64 // answers to server requests written so far

	mu        sync.Mutex
	responses map[string]chan message
	requests  chan message // server-to-client requests
	notes     chan message // notifications
}

// startServer runs the server over stdio and initializes it declaring caps
// (a JSON object).
func startServer(t *testing.T, caps string, flags ...string) *rawClient {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(flags, " "))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c := &rawClient{t: t, stdin: stdin, responses: map[string]chan message{},
		requests: make(chan message, 16), notes: make(chan message, 1024)}
	t.Cleanup(func() {
		_ = stdin.Close() // EOF ends the server
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			assert.NoError(t, err, "the server's exit (a -race build exits 66 on a race)")
		case <-time.After(waitFor):
			_ = cmd.Process.Kill()
			t.Error("the server did not exit when stdin closed")
		}
	})
	go c.read(stdout)

	init := c.call("initialize", fmt.Sprintf(
		`{"protocolVersion":"2025-11-25","capabilities":%s,"clientInfo":{"name":"test","version":"1"}}`, caps))
	c.result(init)
	c.write(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return c
}

func (c *rawClient) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			c.t.Errorf("server wrote a line that is not JSON: %q", sc.Text())
			continue
		}
		m.answered = c.written.Load()
		switch {
		case m.Method != "" && m.ID != nil:
			c.requests <- m
		case m.Method != "":
			c.notes <- m
		default:
			c.mu.Lock()
			ch := c.responses[string(m.ID)]
			c.mu.Unlock()
			if ch == nil {
				c.t.Errorf("response to no request: %s", sc.Text())
				continue
			}
			ch <- m
		}
	}
}

func (c *rawClient) write(line string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := io.WriteString(c.stdin, line+"\n")
	require.NoError(c.t, err)
}

// call sends a request; params is a JSON object. The returned channel gets
// the response.
func (c *rawClient) call(method, params string) chan message {
	id := fmt.Sprint(c.nextID.Add(1))
	ch := make(chan message, 1)
	c.mu.Lock()
	c.responses[id] = ch
	c.mu.Unlock()
	c.write(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":%q,"params":%s}`, id, method, params))
	return ch
}

// response waits for the response on ch.
func (c *rawClient) response(ch chan message) message {
	c.t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(waitFor):
		c.t.Fatal("no response from the server")
		return message{}
	}
}

// result waits for a successful response on ch and returns its result.
func (c *rawClient) result(ch chan message) json.RawMessage {
	c.t.Helper()
	m := c.response(ch)
	require.Nil(c.t, m.Error, "error response")
	return m.Result
}

// serverRequest waits for the server's next request to the client.
func (c *rawClient) serverRequest() message {
	c.t.Helper()
	select {
	case m := <-c.requests:
		return m
	case <-time.After(waitFor):
		c.t.Fatal("the server sent no request to the client")
		return message{}
	}
}

// answer responds to the server's request req with result (JSON).
func (c *rawClient) answer(req message, result string) {
	c.written.Add(1)
	c.write(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":%s}`, req.ID, result))
}

// notification waits for the next notification with method.
func (c *rawClient) notification(method string) message {
	c.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case m := <-c.notes:
			if m.Method == method {
				return m
			}
		case <-deadline:
			c.t.Fatalf("no %s from the server", method)
			return message{}
		}
	}
}

// drainNotes returns the notifications received so far.
func (c *rawClient) drainNotes() []message {
	var got []message
	for {
		select {
		case m := <-c.notes:
			got = append(got, m)
		default:
			return got
		}
	}
}

// toolText calls a tool and returns its result's text blocks, joined.
func (c *rawClient) toolText(name string) (text string, isError bool) {
	c.t.Helper()
	return contentText(c.t, c.result(c.call("tools/call", fmt.Sprintf(`{"name":%q,"arguments":{}}`, name))))
}

func contentText(t *testing.T, result json.RawMessage) (string, bool) {
	t.Helper()
	var res struct {
		Content []struct {
			Type, Text string
		} `json:"content"`
		IsError bool `json:"isError"`
	}
	require.NoError(t, json.Unmarshal(result, &res))
	var parts []string
	for _, c := range res.Content {
		parts = append(parts, c.Text)
	}
	return strings.Join(parts, "\n"), res.IsError
}
