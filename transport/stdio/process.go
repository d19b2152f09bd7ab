package stdio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
	"github.com/archestra-ai/mcp-orchestrator/transport/logline"
)

// Process is a running MCP stdio server. launcher.Process implements it in
// the pod; ExecStarter implements it for local runs and tests.
type Process interface {
	Label() string
	Stdin() io.WriteCloser
	Stdout() io.ReadCloser
	// Done is closed once the process has exited.
	Done() <-chan struct{}
	// ExitStatus describes the exit ("exit status 3"); valid after Done.
	ExitStatus() string
	// Stop asks the process to terminate (TERM, later KILL) without waiting.
	Stop()
}

// Starter starts processes; label prefixes the process's stderr lines.
type Starter interface {
	Start(ctx context.Context, label string) (Process, error)
}

// StarterFunc adapts a function to Starter.
type StarterFunc func(ctx context.Context, label string) (Process, error)

// Start calls f.
func (f StarterFunc) Start(ctx context.Context, label string) (Process, error) { return f(ctx, label) }

// ExecStarter runs Command directly as a child of this process (no
// launcher). Used by tests and for running the sidecar outside Kubernetes.
type ExecStarter struct {
	Command []string
	// Stderr receives the children's stderr, prefixed by label; default
	// os.Stderr.
	Stderr io.Writer
}

// Start implements Starter.
func (e *ExecStarter) Start(_ context.Context, label string) (Process, error) {
	if len(e.Command) == 0 {
		return nil, errors.New("no command")
	}
	cmd := exec.Command(e.Command[0], e.Command[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Plain pipes rather than cmd.StdoutPipe: Wait closes those as soon as
	// the process exits, losing the last lines a crashing server wrote.
	inR, stdin, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	stdout, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		stdin.Close()
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	cmd.Stdin, cmd.Stdout = inR, outW
	stderr, err := cmd.StderrPipe()
	if err != nil {
		inR.Close()
		stdin.Close()
		stdout.Close()
		outW.Close()
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		stdin.Close()
		stdout.Close()
		return nil, fmt.Errorf("starting %q: %w", e.Command[0], err)
	}
	out := e.Stderr
	if out == nil {
		out = os.Stderr
	}
	p := &execProcess{label: label, cmd: cmd, stdin: stdin, stdout: stdout, done: make(chan struct{})}
	p.SetSession("")
	stderrDone := make(chan struct{})
	go func() {
		defer close(stderrDone)
		logline.Copy(out, stderr, func() string { return *p.prefix.Load() }, nil)
	}()
	go func() {
		<-stderrDone // Wait closes the pipes: drain stderr first
		err := cmd.Wait()
		p.exit = "exit status 0"
		if err != nil {
			p.exit = err.Error()
		}
		close(p.done)
	}()
	return p, nil
}

type execProcess struct {
	label    string
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	stdout   io.ReadCloser
	done     chan struct{}
	exit     string
	stopOnce sync.Once
	prefix   atomic.Pointer[string]
}

// SetSession adds the (log-safe) session label to the stderr prefix.
func (p *execProcess) SetSession(session string) {
	pre := "[" + p.label + "] "
	if session != "" {
		pre = "[" + p.label + " session=" + session + "] "
	}
	p.prefix.Store(&pre)
}

// sessionLabeler is implemented by processes whose stderr prefix can name
// their session (launcher.Process, execProcess).
type sessionLabeler interface {
	SetSession(session string)
}

func (p *execProcess) Label() string         { return p.label }
func (p *execProcess) Stdin() io.WriteCloser { return p.stdin }
func (p *execProcess) Stdout() io.ReadCloser { return p.stdout }
func (p *execProcess) Done() <-chan struct{} { return p.done }
func (p *execProcess) ExitStatus() string    { return p.exit }
func (p *execProcess) Stop() {
	p.stopOnce.Do(func() {
		_ = p.stdin.Close()
		pid := p.cmd.Process.Pid
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		go func() {
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
		}()
	})
}

// maxLine bounds one stdio message (a huge tool result is still one line).
const maxLine = 64 << 20

// conn speaks newline-delimited JSON-RPC with one process. Messages from the
// server are decoded only to be classified and routed; their bytes are
// forwarded untouched.
type conn struct {
	proc Process
	log  *slog.Logger

	wmu sync.Mutex
	w   *bufio.Writer
	// writeTimeout bounds one write when stdin supports deadlines (pipes
	// from os.Pipe and from the launcher are pollable *os.File); 0: none.
	// The deadline is renewed when less than writeTimeout is left, to
	// 1.5 writeTimeout ahead: a write gets between one and one and a half
	// timeouts, and the pipe's timer is reset every half timeout instead of
	// on every message.
	writeTimeout time.Duration
	deadline     time.Time // the one set on stdin (under wmu)
	// onStall is called (with the write lock held) when a write timed out;
	// default: stop the process. Set before the conn is shared.
	onStall func()
	// r is read by warmUp, then by readLoop, never both at once.
	r *bufio.Reader
	// pinged: warmed up with a ping (pool.warmUpRequest).
	pinged bool
}

func newConn(p Process, log *slog.Logger) *conn {
	return &conn{
		proc: p, log: log, writeTimeout: DefaultWriteTimeout,
		w: bufio.NewWriterSize(p.Stdin(), 64*1024),
		r: bufio.NewReaderSize(p.Stdout(), 64*1024),
	}
}

// warmUpID is the id of the warm-up request; chosen so no client uses it.
const warmUpID = `"mcp-transport-warm-up-7f3a"`

// Warm-up requests. A ping is allowed before initialize; a server that
// speaks only 2026-07-28 gets server/discover instead, since some let the
// first message choose the era of the whole connection (the TypeScript
// SDK's serveStdio pins a ping's connection to 2025), and every message it
// will see from the sidecar is a 2026-07-28 one.
var (
	warmUpPing     = []byte(`{"jsonrpc":"2.0","id":` + warmUpID + `,"method":"ping"}`)
	warmUpDiscover = discoverRequest(warmUpID)
)

// warmUp sends the warm-up request and waits for its answer: any answer
// (even an error from a strict server) proves the process has loaded and
// reads stdin, so a pooled process is really warm (npx + node take a
// second to get there). It consumes the answer so the session never sees
// it.
func (c *conn) warmUp(ctx context.Context, request []byte) error {
	if err := c.write(request); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		for {
			line, err := c.r.ReadBytes('\n')
			if m, derr := mcp.DecodeOne(line); derr == nil && m.Kind == mcp.KindResponse && m.Key() == warmUpID {
				done <- nil
				return
			}
			if err != nil {
				done <- fmt.Errorf("process ended before answering the warm-up request: %w", err)
				return
			}
		}
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		c.proc.Stop() // unblocks the reader
		<-done
		return fmt.Errorf("warm-up request: %w", ctx.Err())
	}
}

// errWriteTimeout means the process did not read its stdin within the write
// timeout (its pipe is full): the process is stopped, its session must end.
var errWriteTimeout = errors.New("the MCP server process stopped reading its input")

type writeDeadliner interface {
	SetWriteDeadline(t time.Time) error
}

// write sends one message (raw JSON without newlines) to the process. A
// write that does not complete within writeTimeout (to 1.5 of it) stops the process (its
// readLoop then reports the exit) and fails with errWriteTimeout; the
// buffered writer keeps the error, so later writes fail at once instead of
// queueing on the lock.
func (c *conn) write(raw []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if dl, ok := c.proc.Stdin().(writeDeadliner); ok && c.writeTimeout > 0 {
		if now := time.Now(); c.deadline.Sub(now) < c.writeTimeout {
			c.deadline = now.Add(c.writeTimeout + c.writeTimeout/2)
			_ = dl.SetWriteDeadline(c.deadline)
		}
	}
	_, err := c.w.Write(raw)
	if err == nil {
		err = c.w.WriteByte('\n')
	}
	if err == nil {
		err = c.w.Flush()
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.log.Error("MCP server process stopped reading stdin; stopping it", "process", c.proc.Label(), "timeout", c.writeTimeout)
		if c.onStall != nil {
			c.onStall()
		}
		c.proc.Stop()
		return fmt.Errorf("%w (write timed out after %s)", errWriteTimeout, c.writeTimeout)
	}
	return fmt.Errorf("writing to process: %w", err)
}

// readLoop delivers each message the process writes until its stdout ends,
// then waits for the exit status and calls onExit with it. Lines that are
// not JSON-RPC (some servers print banners on stdout) are logged and skipped.
func (c *conn) readLoop(onMsg func(*mcp.Message), onExit func(status string)) {
	r := c.r
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			buf = append(buf, chunk...)
			if len(buf) > maxLine {
				c.log.Error("process wrote an oversized line; stopping it", "process", c.proc.Label())
				break
			}
			continue
		}
		line := chunk
		if len(buf) > 0 {
			buf = append(buf, chunk...)
			line = buf
		}
		if len(line) > 0 {
			// Decode a copy: ReadSlice's buffer is reused by the next read,
			// and a message's fields are slices of the bytes it came from.
			if m, derr := mcp.DecodeOne(append([]byte(nil), bytes.TrimSpace(line)...)); derr == nil {
				onMsg(compacted(m))
			} else if len(trimSpace(line)) > 0 {
				c.log.Warn("process wrote a non JSON-RPC line on stdout", "process", c.proc.Label(), "err", derr)
			}
		}
		buf = buf[:0]
		if err != nil {
			break
		}
	}
	c.proc.Stop()
	select {
	case <-c.proc.Done():
	case <-time.After(15 * time.Second):
	}
	status := c.proc.ExitStatus()
	if status == "" {
		status = "process did not exit after closing stdout"
	}
	onExit(status)
}

// compacted is m without line breaks between its tokens: a stray CR would
// split an SSE data line.
func compacted(m *mcp.Message) *mcp.Message {
	if !bytes.ContainsAny(m.Raw, "\r\n") {
		return m
	}
	var c bytes.Buffer
	if json.Compact(&c, m.Raw) != nil {
		return m
	}
	if cm, err := mcp.DecodeOne(c.Bytes()); err == nil {
		return cm
	}
	return m
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
