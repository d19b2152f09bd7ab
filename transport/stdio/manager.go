// Package stdio bridges MCP streamable HTTP to MCP servers that speak
// newline-delimited JSON-RPC on stdin/stdout.
//
// Why not the SDK's server side: mcp.StreamableHTTPHandler terminates the
// protocol (it decodes every message into typed requests and dispatches them
// to an mcp.Server). A bridge must instead forward messages it does not
// understand (new methods, extra fields, newer revisions) byte for byte, and
// route the server's own requests and notifications to the right HTTP
// stream. So the HTTP side is implemented here on raw messages, using
// internal/mcp for the envelope only; the SDK is used for its error codes
// and as the client in the tests.
package stdio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
	"github.com/archestra-ai/mcp-orchestrator/transport/health"
	"github.com/archestra-ai/mcp-orchestrator/transport/metrics"
)

// Config configures a Manager.
type Config struct {
	Starter Starter
	// Shared runs one process for all sessions instead of one per session.
	Shared bool
	// MaxSessions caps concurrent sessions (0: unlimited).
	MaxSessions int
	// WarmPool is how many started, unused processes are kept ready
	// (per-session mode).
	WarmPool int
	// IdleTimeout ends sessions without any HTTP activity for this long.
	IdleTimeout time.Duration
	// StartTimeout bounds starting a process and its initialize handshake.
	StartTimeout time.Duration
	// KeepAlive is the interval of SSE keep-alive comments (default 25s).
	KeepAlive time.Duration
	// WriteTimeout bounds writing one message to a process's stdin (default
	// 30s). A server that stops reading fills the pipe; its session then
	// ends instead of hanging with the write lock held.
	WriteTimeout time.Duration
	// ProbeInterval is how often readiness is re-checked with a real
	// initialize handshake when no session has done one recently.
	ProbeInterval time.Duration
	// Era forces the server's era ("legacy" or "modern") instead of probing
	// for it: for a dual-era server that should be translated, or one that
	// misbehaves on the probe. Empty: probe.
	Era string
	// EraProbeTimeout bounds the wait for an answer to the stdio era probe
	// (server/discover); silence means a legacy server (default 5s).
	EraProbeTimeout time.Duration
	// Caller names the caller of a stateless request, which keys its
	// process (default ContextCaller: the gateway's statement).
	Caller func(*http.Request) string
	// GatherWindow is how long the MRTR bridge waits for more input
	// requests of a legacy server after the first (default 25ms).
	GatherWindow time.Duration
	// MRTRTimeout bounds the wait for the retry of an InputRequiredResult
	// (default 5m); the legacy request is then cancelled.
	MRTRTimeout time.Duration
	// CacheTTL is the ttlMs added to a legacy server's list and read
	// results for modern clients (default 0: revalidate every time).
	CacheTTL time.Duration

	Logger  *slog.Logger
	Metrics *metrics.Metrics
	Health  *health.Tracker
}

// ErrTooManySessions is returned when MaxSessions is reached.
var ErrTooManySessions = errors.New("too many sessions")

// Manager owns the sessions and the processes behind them.
type Manager struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics.Metrics
	health  *health.Tracker

	mu       sync.Mutex
	sessions map[string]*session
	reserved int // sessions being created (counted against MaxSessions)
	closed   bool

	// Stateless (2026-07-28) requests: the server's era, one process per
	// key (caller, or everyone in shared mode), starts in progress, and the
	// signer of MRTR requestStates.
	era      *eraState
	mprocs   map[string]*mproc
	starting map[string]chan struct{}
	states   *stateSigner
	tools    *toolHeaders

	procSeq  atomic.Int64
	pool     *pool
	shared   *sharedBackend
	draining chan struct{}
	stop     chan struct{}
	wg       sync.WaitGroup
}

// NewManager starts the warm pool, the idle janitor and the readiness probe.
func NewManager(cfg Config) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Health == nil {
		cfg.Health = health.NewTracker(10 * time.Minute)
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = 5 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 25 * time.Second
	}
	if cfg.EraProbeTimeout <= 0 {
		cfg.EraProbeTimeout = 5 * time.Second
	}
	if cfg.Caller == nil {
		cfg.Caller = ContextCaller
	}
	if cfg.GatherWindow <= 0 {
		cfg.GatherWindow = 25 * time.Millisecond
	}
	if cfg.MRTRTimeout <= 0 {
		cfg.MRTRTimeout = 5 * time.Minute
	}
	m := &Manager{
		cfg:      cfg,
		log:      cfg.Logger,
		metrics:  cfg.Metrics,
		health:   cfg.Health,
		sessions: map[string]*session{},
		era:      newEraState(),
		mprocs:   map[string]*mproc{},
		starting: map[string]chan struct{}{},
		states:   newStateSigner(),
		tools:    newToolHeaders(),
		draining: make(chan struct{}),
		stop:     make(chan struct{}),
	}
	if cfg.Shared {
		m.shared = newSharedBackend(m)
	} else if cfg.WarmPool > 0 {
		m.pool = newPool(m, cfg.WarmPool)
		m.wg.Add(1)
		go func() { defer m.wg.Done(); m.pool.run(m.stop) }()
	}
	if cfg.IdleTimeout > 0 {
		m.wg.Add(1)
		go func() { defer m.wg.Done(); m.janitor() }()
	}
	m.wg.Add(1)
	go func() { defer m.wg.Done(); m.prober() }()
	return m
}

// DefaultWriteTimeout is Config.WriteTimeout's default.
const DefaultWriteTimeout = 30 * time.Second

func (m *Manager) newConn(p Process) *conn {
	c := newConn(p, m.log)
	c.writeTimeout = m.cfg.WriteTimeout
	return c
}

// startProcess starts a fresh process.
func (m *Manager) startProcess(ctx context.Context) (Process, error) {
	label := "p" + strconv.FormatInt(m.procSeq.Add(1), 10)
	p, err := m.cfg.Starter.Start(ctx, label)
	if err != nil {
		m.metrics.Error("process_start")
		return nil, fmt.Errorf("starting MCP server process: %w", err)
	}
	m.metrics.ProcessStarted()
	return p, nil
}

// newSession creates a session with its backend. It fails with
// ErrTooManySessions at the cap.
func (m *Manager) newSession(ctx context.Context, version string) (*session, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errors.New("shutting down")
	}
	if m.cfg.MaxSessions > 0 && m.countLocked() >= m.cfg.MaxSessions {
		m.mu.Unlock()
		return nil, ErrTooManySessions
	}
	m.reserved++
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.reserved--
		m.mu.Unlock()
	}()
	s := newSession(m, version)
	be, err := m.sessionBackend(ctx, s)
	if err != nil {
		return nil, err
	}
	s.be = be
	if err := m.register(s); err != nil {
		return nil, err
	}
	return s, nil
}

// sessionBackend is what carries a new session's messages: the sidecar
// itself for a modern-only server (legacyfront.go; sessions that start
// before the prober knows the era go to the server as they are), the
// shared process, or a process of its own.
func (m *Manager) sessionBackend(ctx context.Context, s *session) (backend, error) {
	if info := m.era.peek(); info != nil && info.modernOnly() {
		return m.newSessionBridge(ctx, s, info)
	}
	if m.shared != nil {
		return m.shared, nil
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.StartTimeout)
	defer cancel()
	c, err := m.takeConn(ctx)
	if err != nil {
		return nil, err
	}
	m.dedicate(s, c)
	return &dedicated{conn: c}, nil
}

// dedicate makes c the process of session s.
func (m *Manager) dedicate(s *session, c *conn) {
	p := c.proc
	if l, ok := p.(sessionLabeler); ok {
		l.SetSession(s.label)
	}
	// The server stopped reading stdin: end the session first, so its
	// requests get this reason rather than the exit status.
	c.onStall = func() {
		m.endSession(s, "the MCP server stopped reading its input (write timed out after "+m.cfg.WriteTimeout.String()+")", false)
	}
	s.log.Info("session started", "process", p.Label())
	go c.readLoop(s.deliver, func(status string) {
		reason := "crashed"
		if s.isClosed() {
			reason = "stopped"
		} else {
			s.log.Warn("MCP server process ended during the session", "process", p.Label(), "status", status)
		}
		m.metrics.ProcessExited(reason)
		m.endSession(s, status, true)
	})
}

// register puts a started session in the map.
func (m *Manager) register(s *session) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		s.be.detach(s)
		return errors.New("shutting down")
	}
	// The process may have ended already and its exit path ended s (not yet
	// in the map): never put a closed session back. m.mu is held, so a later
	// end finds s in the map and removes it.
	if s.isClosed() {
		m.mu.Unlock()
		return errors.New("MCP server process ended while the session started")
	}
	m.sessions[s.id] = s
	m.mu.Unlock()
	m.metrics.SessionOpened()
	return nil
}

// lookup returns the live session with this id, or nil.
func (m *Manager) lookup(id string) *session {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sessions[id]
}

// endSession removes s (404 from now on), answers its in-flight requests
// and releases its backend. crashed selects the error text: reason is then
// the exit status ("MCP server process ended: exit status 3").
func (m *Manager) endSession(s *session, reason string, crashed bool) {
	var ok bool
	if crashed {
		ok = s.end(func(id json.RawMessage) []byte { return mcp.ServerGone(id, reason) })
	} else {
		ok = s.end(func(id json.RawMessage) []byte {
			return mcp.ErrorResponse(id, api.CodeServerError, "session ended: "+reason, nil)
		})
	}
	if !ok {
		return
	}
	m.mu.Lock()
	_, present := m.sessions[s.id]
	delete(m.sessions, s.id)
	m.mu.Unlock()
	if present {
		m.metrics.SessionClosed()
	}
	s.be.detach(s)
	s.log.Info("session ended", "reason", reason)
}

// SessionCount is the number of live sessions.
func (m *Manager) SessionCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

// InFlight is the number of client requests the server processes have not
// answered yet, over all sessions (their POST streams are still open, even
// if the client dropped the connection to resume it later).
func (m *Manager) InFlight() int {
	m.mu.Lock()
	all := make([]*session, 0, len(m.sessions))
	for _, s := range m.sessions {
		all = append(all, s)
	}
	m.mu.Unlock()
	n := 0
	for _, s := range all {
		s.mu.Lock()
		n += len(s.pending)
		s.mu.Unlock()
	}
	return n + m.procsBusy()
}

func (m *Manager) janitor() {
	every := m.cfg.IdleTimeout / 4
	if every > 30*time.Second {
		every = 30 * time.Second
	}
	if every < 10*time.Millisecond {
		every = 10 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case now := <-t.C:
			m.mu.Lock()
			var idle []*session
			for _, s := range m.sessions {
				if s.idleSince(now, m.cfg.IdleTimeout) {
					idle = append(idle, s)
				}
			}
			m.mu.Unlock()
			for _, s := range idle {
				m.endSession(s, "idle timeout", false)
			}
			m.stopIdleProcs(now)
		}
	}
}

// Drain makes standalone GET streams and subscriptions end so
// http.Server.Shutdown can finish; POST streams keep going until answered.
func (m *Manager) Drain() {
	m.mu.Lock()
	select {
	case <-m.draining:
	default:
		close(m.draining)
	}
	m.mu.Unlock()
	for _, p := range m.procs() {
		p.closeListens()
	}
}

// Close ends every session and stops every process (the launcher sends
// TERM, then KILL).
func (m *Manager) Close() {
	m.Drain()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	all := make([]*session, 0, len(m.sessions))
	for _, s := range m.sessions {
		all = append(all, s)
	}
	m.mu.Unlock()
	close(m.stop)
	for _, s := range all {
		m.endSession(s, "sidecar shutting down", false)
	}
	if m.shared != nil {
		m.shared.close()
	}
	m.closeProcs()
	m.wg.Wait()
	if m.pool != nil {
		m.pool.drain()
	}
}

// dedicated is the per-session backend: the session owns the process.
type dedicated struct {
	conn *conn
}

// errProcessGone means the write failed because the process is ending; the
// exit path answers the session's requests with the exit status.
var errProcessGone = errors.New("MCP server process is gone")

func (d *dedicated) send(_ *session, m *mcp.Message) error {
	if err := d.conn.write(m.Raw); err != nil {
		// Make sure it really ends, so readLoop reports the exit.
		d.conn.proc.Stop()
		return fmt.Errorf("%w: %w", errProcessGone, err)
	}
	return nil
}
func (d *dedicated) detach(*session) { d.conn.proc.Stop() }
