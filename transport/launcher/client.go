package launcher

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// Client asks the launcher at Socket for processes. It is the sidecar's
// process starter in stdio mode.
type Client struct {
	Socket string
}

// Process is a child of the launcher whose stdin/stdout pipes we hold.
type Process struct {
	label  string
	pid    int
	stdin  *os.File
	stdout *os.File
	conn   *net.UnixConn

	done     chan struct{}
	exit     string
	stopOnce sync.Once
}

// Start connects to the launcher and starts one process.
func (c *Client) Start(ctx context.Context, label string) (*Process, error) {
	conn, err := c.dial(ctx, label)
	if err != nil {
		return nil, err
	}
	fds, r, st, err := readStarted(conn)
	if err != nil {
		for _, fd := range fds {
			syscall.Close(fd)
		}
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	for _, fd := range fds {
		// Non-blocking so the files are pollable: Close interrupts reads.
		_ = syscall.SetNonblock(fd, true)
		syscall.CloseOnExec(fd)
	}
	p := &Process{
		label:  label,
		pid:    st.PID,
		stdin:  os.NewFile(uintptr(fds[0]), label+"-stdin"),
		stdout: os.NewFile(uintptr(fds[1]), label+"-stdout"),
		conn:   conn,
		done:   make(chan struct{}),
	}
	go p.waitExit(r)
	return p, nil
}

// dial connects to the launcher and asks for a process.
func (c *Client) dial(ctx context.Context, label string) (*net.UnixConn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", c.Socket)
	if err != nil {
		return nil, fmt.Errorf("dialing launcher: %w", err)
	}
	conn := nc.(*net.UnixConn)
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
	b, _ := json.Marshal(hello{Label: label})
	if _, err := conn.Write(append(b, '\n')); err != nil {
		conn.Close()
		return nil, fmt.Errorf("sending hello: %w", err)
	}
	return conn, nil
}

// readStarted reads the launcher's reply: the process's stdin and stdout
// as file descriptors with the first byte, then the started line. The
// returned reader carries the later exit line.
func readStarted(conn *net.UnixConn) ([]int, *bufio.Reader, started, error) {
	var st started
	buf := make([]byte, 4096)
	oob := make([]byte, syscall.CmsgSpace(2*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, nil, st, fmt.Errorf("reading launcher reply: %w", err)
	}
	fds, err := parseRights(oob[:oobn])
	if err != nil {
		return nil, nil, st, err
	}
	// The rest of the line (rarely split) and the later exit line come
	// through the buffered reader.
	r := bufio.NewReader(io.MultiReader(bytes.NewReader(buf[:n]), conn))
	line, err := r.ReadBytes('\n')
	switch {
	case err != nil:
		return fds, nil, st, fmt.Errorf("reading launcher reply: %w", err)
	case json.Unmarshal(line, &st) != nil:
		return fds, nil, st, fmt.Errorf("decoding launcher reply: %q", line)
	case st.Error != "":
		return fds, nil, st, fmt.Errorf("launcher: %s", st.Error)
	case len(fds) != 2:
		return fds, nil, st, fmt.Errorf("launcher sent %d fds, want 2", len(fds))
	}
	return fds, r, st, nil
}

func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parsing control message: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		f, err := syscall.ParseUnixRights(&m)
		if err != nil {
			return nil, fmt.Errorf("parsing unix rights: %w", err)
		}
		fds = append(fds, f...)
	}
	return fds, nil
}

func (p *Process) waitExit(r *bufio.Reader) {
	defer close(p.done)
	line, err := r.ReadBytes('\n')
	var ex exited
	if err == nil && json.Unmarshal(line, &ex) == nil && ex.Exit != "" {
		p.exit = ex.Exit
		return
	}
	if errors.Is(err, net.ErrClosed) {
		p.exit = "stopped"
		return
	}
	p.exit = "launcher connection lost"
}

// SetSession tells the launcher which session the process serves, for its
// stderr prefix. session must be log-safe (a hash, never the session id).
func (p *Process) SetSession(session string) {
	b, _ := json.Marshal(assign{Session: session})
	_ = p.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = p.conn.Write(append(b, '\n'))
}

// Label is the log label of the process.
func (p *Process) Label() string { return p.label }

// PID is the child's pid in the server container.
func (p *Process) PID() int { return p.pid }

// Stdin is the write end of the child's stdin.
func (p *Process) Stdin() io.WriteCloser { return p.stdin }

// Stdout is the read end of the child's stdout.
func (p *Process) Stdout() io.ReadCloser { return p.stdout }

// Done is closed when the child has exited (or the launcher went away).
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitStatus describes how the child ended; valid after Done.
func (p *Process) ExitStatus() string { return p.exit }

// Stop asks the launcher to terminate the child (SIGTERM, then SIGKILL after
// its grace period) and does not wait; use Done for that.
func (p *Process) Stop() {
	p.stopOnce.Do(func() {
		_ = p.stdin.Close()
		// Half-close: the launcher sees EOF and stops the child, and we can
		// still read the exit status.
		if err := p.conn.CloseWrite(); err != nil {
			_ = p.conn.Close()
		}
		go func() {
			<-p.done
			_ = p.conn.Close()
			_ = p.stdout.Close()
		}()
	})
}
