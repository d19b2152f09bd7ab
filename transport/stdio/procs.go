package stdio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
	"github.com/archestra-ai/mcp-orchestrator/transport/caller"
)

// Which process serves a stateless request: requests of different callers
// never share a process unless sessions: shared, and one caller's requests
// reach the same live process, so a stateful server keeps that caller's
// state. The caller is the identity the gateway states (user and groups,
// trusted only from the authenticated gateway); a process is keyed by it.
// A legacy server fixes its client's capabilities at initialize, so its
// processes are also keyed by the capabilities the request declares (in
// practice one set per client): the server then asks only for what the
// client can answer.

// procKey is the process a request belongs to.
func (m *Manager) procKey(r *http.Request, meta mcp.RequestMeta, info *eraInfo) string {
	key := ""
	if !m.cfg.Shared {
		key = m.cfg.Caller(r)
	}
	if !info.modern {
		key += "\x00" + capabilityKey(meta.ClientCapabilities)
	}
	return key
}

// inputCapabilities are what a legacy server can ask a client for.
var inputCapabilities = []string{"elicitation", "roots", "sampling"}

// capabilityKey is the canonical form of the input capabilities declared.
func capabilityKey(caps json.RawMessage) string {
	var parts []string
	for _, c := range inputCapabilities {
		if v := mcp.Lookup(caps, c); len(v) > 0 {
			var canon any
			_ = json.Unmarshal(v, &canon)
			b, _ := json.Marshal(canon) // sorted keys
			parts = append(parts, c+"="+string(b))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// ContextCaller is the default Config.Caller: the caller the gateway
// stated on a connection that presented its client certificate (package
// caller); "" without one, so without caller authentication every request
// is the same caller.
func ContextCaller(r *http.Request) string {
	key, _ := caller.KeyFrom(r.Context())
	return key
}

// procFor returns the live process of key, starting one (from the warm
// pool) when there is none. Concurrent first requests of a key share one
// start.
func (m *Manager) procFor(ctx context.Context, key string, info *eraInfo, meta mcp.RequestMeta) (*mproc, error) {
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return nil, errors.New("shutting down")
		}
		if p := m.mprocs[key]; p != nil {
			m.mu.Unlock()
			return p, nil
		}
		if wait, ok := m.starting[key]; ok {
			m.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if m.cfg.MaxSessions > 0 && m.countLocked() >= m.cfg.MaxSessions {
			m.mu.Unlock()
			return nil, ErrTooManySessions
		}
		wait := make(chan struct{})
		m.starting[key] = wait
		m.reserved++
		m.mu.Unlock()
		p, err := m.startProc(ctx, key, info, meta)
		m.mu.Lock()
		delete(m.starting, key)
		m.reserved--
		if err == nil {
			m.mprocs[key] = p
		}
		m.mu.Unlock()
		close(wait)
		if err == nil {
			m.metrics.SessionOpened()
		}
		return p, err
	}
}

// countLocked is what max-sessions caps: sessions and stateless processes.
func (m *Manager) countLocked() int { return len(m.sessions) + len(m.mprocs) + m.reserved }

// startProc takes a process (warm if possible) and, for a legacy server,
// initializes it with the request's capabilities.
func (m *Manager) startProc(ctx context.Context, key string, info *eraInfo, meta mcp.RequestMeta) (*mproc, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.StartTimeout)
	defer cancel()
	t0 := time.Now()
	c, err := m.takeConn(ctx)
	if err != nil {
		return nil, err
	}
	m.log.Debug("took a process", "took", time.Since(t0).String())
	p := newMproc(m, key, !info.modern, c)
	p.start(func() { m.procEnded(p) })
	if p.translate {
		if err := p.initialize(ctx, meta); err != nil {
			c.proc.Stop()
			return nil, fmt.Errorf("initializing the legacy MCP server: %w", err)
		}
	}
	p.log.Info("process serves stateless requests", "translate", p.translate, "took", time.Since(t0).String())
	return p, nil
}

// takeConn is a warm pooled process or a fresh one.
func (m *Manager) takeConn(ctx context.Context) (*conn, error) {
	if m.pool != nil {
		return m.pool.get(ctx)
	}
	proc, err := m.startProcess(ctx)
	if err != nil {
		return nil, err
	}
	return m.newConn(proc), nil
}

// procEnded forgets a process that exited.
func (m *Manager) procEnded(p *mproc) {
	m.mu.Lock()
	present := m.mprocs[p.key] == p
	if present {
		delete(m.mprocs, p.key)
	}
	m.mu.Unlock()
	if present {
		m.metrics.SessionClosed()
	}
	m.metrics.ProcessExited("stopped")
}

// procs is a snapshot of the stateless processes.
func (m *Manager) procs() []*mproc {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Collect(maps.Values(m.mprocs))
}

// stopIdleProcs ends stateless processes nothing used for the idle timeout.
func (m *Manager) stopIdleProcs(now time.Time) {
	for _, p := range m.procs() {
		if p.idleSince(now, m.cfg.IdleTimeout) {
			p.log.Info("stateless process idle; stopping it")
			p.conn.proc.Stop()
		}
	}
}

// closeProcs ends every stateless process (shutdown).
func (m *Manager) closeProcs() {
	for _, p := range m.procs() {
		p.closeListens()
		p.conn.proc.Stop()
	}
}

// procsBusy sums requests in flight at stateless processes.
func (m *Manager) procsBusy() int {
	n := 0
	for _, p := range m.procs() {
		n += p.busy()
	}
	return n
}
