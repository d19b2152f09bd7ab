package launcher

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/transport/logline"
)

// Server spawns Command for each sidecar connection and supervises the
// children (see the package comment for the protocol).
type Server struct {
	Socket  string
	Command []string
	// Stderr receives the children's stderr, each line prefixed with the
	// process label. Defaults to os.Stderr.
	Stderr io.Writer
	Logger *slog.Logger
	// KillGrace is how long a child gets between SIGTERM and SIGKILL.
	KillGrace time.Duration

	mu       sync.Mutex
	children map[int]*child
	// stopping is set when shutdown takes its list of children: no child
	// may start after that, or nothing would ever stop it.
	stopping bool
	stderrMu sync.Mutex
	wg       sync.WaitGroup
}

type child struct {
	pid    int
	label  string
	prefix atomic.Pointer[string] // stderr line prefix; gains the session once known
	done   chan struct{}
	exit   exited
}

func (c *child) setPrefix(session string) {
	p := "[" + c.label + "] "
	if session != "" {
		p = "[" + c.label + " session=" + session + "] "
	}
	c.prefix.Store(&p)
}

// Run serves until ctx is cancelled (SIGTERM/SIGINT in main), then forwards
// SIGTERM to every child, waits up to KillGrace and SIGKILLs the rest.
func (s *Server) Run(ctx context.Context) error {
	if len(s.Command) == 0 {
		return errors.New("launcher: no command to run")
	}
	if s.Stderr == nil {
		s.Stderr = os.Stderr
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.KillGrace <= 0 {
		s.KillGrace = 10 * time.Second
	}
	s.children = map[int]*child{}
	_ = os.Remove(s.Socket) // a stale socket from a previous container run
	ln, err := net.Listen("unix", s.Socket)
	if err != nil {
		return fmt.Errorf("launcher: listening on %s: %w", s.Socket, err)
	}
	// The socket lives in the pod-private emptyDir; the sidecar may run
	// under another uid than the server container.
	if err := os.Chmod(s.Socket, 0o666); err != nil {
		return fmt.Errorf("launcher: chmod socket: %w", err)
	}
	reapCtx, stopReap := context.WithCancel(context.Background())
	defer stopReap()
	go s.reap(reapCtx)

	go func() {
		<-ctx.Done()
		_ = ln.Close()
	}()
	s.Logger.Info("launcher listening", "socket", s.Socket, "command", s.Command[0])
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return fmt.Errorf("launcher: accept: %w", err)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(ctx, c.(*net.UnixConn))
		}()
	}
	s.shutdown()
	return nil
}

// shutdown forwards SIGTERM to all children and escalates to SIGKILL.
func (s *Server) shutdown() {
	s.mu.Lock()
	s.stopping = true
	kids := make([]*child, 0, len(s.children))
	for _, c := range s.children {
		kids = append(kids, c)
	}
	s.mu.Unlock()
	for _, c := range kids {
		signalGroup(c.pid, syscall.SIGTERM)
	}
	deadline := time.After(s.KillGrace)
	for _, c := range kids {
		select {
		case <-c.done:
		case <-deadline:
			for _, k := range kids {
				signalGroup(k.pid, syscall.SIGKILL)
			}
			<-c.done
		}
	}
	s.wg.Wait()
}

func signalGroup(pid int, sig syscall.Signal) {
	// Negative pid: the whole process group (npx -> node -> ...).
	if err := syscall.Kill(-pid, sig); err != nil {
		_ = syscall.Kill(pid, sig)
	}
}

func (s *Server) handle(ctx context.Context, conn *net.UnixConn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	label, ok := s.readHello(conn, r)
	if !ok {
		return
	}
	c, stdin, stdout, err := s.spawn(label)
	if err != nil {
		s.Logger.Error("launcher: starting process", "label", label, "err", err)
		s.reply(conn, started{Error: err.Error()}, nil)
		return
	}
	err = s.reply(conn, started{PID: c.pid}, []*os.File{stdin, stdout})
	stdin.Close()
	stdout.Close()
	if err != nil {
		s.Logger.Warn("launcher: handing over pipes", "label", label, "err", err)
		signalGroup(c.pid, syscall.SIGKILL)
		<-c.done
		return
	}
	s.Logger.Info("launcher: process started", "label", label, "pid", c.pid)
	s.superviseChild(ctx, c, s.followPeer(c, r))
	s.Logger.Info("launcher: process exited", "label", label, "pid", c.pid, "status", c.exit.Exit)
	b, _ := json.Marshal(c.exit)
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = conn.Write(append(b, '\n'))
}

// readHello reads the sidecar's request and returns the process's label.
func (s *Server) readHello(conn *net.UnixConn, r *bufio.Reader) (string, bool) {
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := r.ReadBytes('\n')
	if err != nil {
		s.Logger.Warn("launcher: reading hello", "err", err)
		return "", false
	}
	_ = conn.SetReadDeadline(time.Time{})
	var h hello
	if err := json.Unmarshal(line, &h); err != nil {
		s.reply(conn, started{Error: "bad hello"}, nil)
		return "", false
	}
	return cleanLabel(h.Label), true
}

// followPeer reads the lines from the sidecar, which name the session the
// process serves; the returned channel closes at EOF (or anything
// unreadable): the sidecar is done with the child.
func (s *Server) followPeer(c *child, r *bufio.Reader) <-chan struct{} {
	peerGone := make(chan struct{})
	go func() {
		defer close(peerGone)
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				return
			}
			var a assign
			if json.Unmarshal(line, &a) != nil {
				return
			}
			c.setPrefix(cleanLabel(a.Session))
		}
	}()
	return peerGone
}

// superviseChild waits until the child exits, stopping it (TERM, then KILL
// after the grace) when the sidecar lets go of it.
func (s *Server) superviseChild(ctx context.Context, c *child, peerGone <-chan struct{}) {
	select {
	case <-c.done:
	case <-peerGone:
		signalGroup(c.pid, syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(s.KillGrace):
			signalGroup(c.pid, syscall.SIGKILL)
			<-c.done
		}
	case <-ctx.Done():
		<-c.done // shutdown() signals the children
	}
}

func (s *Server) reply(conn *net.UnixConn, msg started, files []*os.File) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encoding reply: %w", err)
	}
	b = append(b, '\n')
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, 0, len(files))
		for _, f := range files {
			// SyscallConn, not Fd(): Fd() would switch our end to blocking mode.
			rc, err := f.SyscallConn()
			if err != nil {
				return fmt.Errorf("pipe fd: %w", err)
			}
			if err := rc.Control(func(fd uintptr) { fds = append(fds, int(fd)) }); err != nil {
				return fmt.Errorf("pipe fd: %w", err)
			}
		}
		oob = syscall.UnixRights(fds...)
	}
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	defer conn.SetWriteDeadline(time.Time{})
	if _, _, err := conn.WriteMsgUnix(b, oob, nil); err != nil {
		return fmt.Errorf("sending reply: %w", err)
	}
	return nil
}

// spawn starts the command with fresh pipes, in its own process group. It
// returns our ends of stdin (write) and stdout (read).
func (s *Server) spawn(label string) (*child, *os.File, *os.File, error) {
	path, err := exec.LookPath(s.Command[0])
	if err != nil {
		return nil, nil, nil, fmt.Errorf("finding %q: %w", s.Command[0], err)
	}
	ends, err := pipes(3)
	if err != nil {
		return nil, nil, nil, err
	}
	inR, inW, outR, outW, errR, errW := ends[0], ends[1], ends[2], ends[3], ends[4], ends[5]
	c, err := s.startChild(path, label, []*os.File{inR, outW, errW})
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		errR.Close()
		return nil, nil, nil, err
	}
	go s.copyStderr(c, errR)
	return c, inW, outR, nil
}

// pipes makes n pipes, returned as read, write, read, write...; none on error.
func pipes(n int) ([]*os.File, error) {
	var ends []*os.File
	for range n {
		r, w, err := os.Pipe()
		if err != nil {
			for _, f := range ends {
				f.Close()
			}
			return nil, fmt.Errorf("pipe: %w", err)
		}
		ends = append(ends, r, w)
	}
	return ends, nil
}

// startChild starts the command with the child's ends of the pipes and
// registers it. The reaper must not see the child before it is registered:
// mu is held across the start.
func (s *Server) startChild(path, label string, files []*os.File) (*child, error) {
	wd, _ := os.Getwd()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return nil, errors.New("the launcher is shutting down")
	}
	p, err := os.StartProcess(path, s.Command, &os.ProcAttr{
		Dir: wd, Env: os.Environ(), Files: files, Sys: &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		return nil, fmt.Errorf("starting %q: %w", s.Command[0], err)
	}
	c := &child{pid: p.Pid, label: label, done: make(chan struct{})}
	c.setPrefix("")
	s.children[p.Pid] = c
	// We reap with wait4 ourselves; release the handle without waiting.
	_ = p.Release()
	return c, nil
}

func (s *Server) copyStderr(c *child, r *os.File) {
	defer r.Close()
	logline.Copy(s.Stderr, r, func() string { return *c.prefix.Load() }, &s.stderrMu)
}

// reap collects exit statuses. As PID 1 it also reaps orphans re-parented
// to it (wait4(-1)); otherwise (tests, local runs) it only waits for its own
// children so it never steals another component's exit status.
func (s *Server) reap(ctx context.Context) {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGCHLD)
	defer signal.Stop(sigs)
	tick := time.NewTicker(time.Second) // belt and braces against coalesced signals
	defer tick.Stop()
	pid1 := os.Getpid() == 1
	for {
		select {
		case <-ctx.Done():
			return
		case <-sigs:
		case <-tick.C:
		}
		s.mu.Lock()
		if pid1 {
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
				s.exitedLocked(pid, ws)
			}
		} else {
			for pid := range s.children {
				var ws syscall.WaitStatus
				if got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil); err == nil && got == pid {
					s.exitedLocked(pid, ws)
				}
			}
		}
		s.mu.Unlock()
	}
}

func (s *Server) exitedLocked(pid int, ws syscall.WaitStatus) {
	c, ok := s.children[pid]
	if !ok {
		return // an orphan we reaped as PID 1
	}
	delete(s.children, pid)
	c.exit = describe(ws)
	close(c.done)
}

func describe(ws syscall.WaitStatus) exited {
	switch {
	case ws.Exited():
		return exited{Exit: fmt.Sprintf("exit status %d", ws.ExitStatus()), Code: ws.ExitStatus()}
	case ws.Signaled():
		return exited{Exit: "signal: " + ws.Signal().String(), Code: -1}
	}
	return exited{Exit: "unknown status", Code: -1}
}
