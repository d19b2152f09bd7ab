package virtual

import (
	"encoding/json"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/cache"

	"github.com/archestra-ai/mcp-orchestrator/gateway/session"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// A legacy client's session with a virtual server is the gateway's own:
// the members are reached statelessly (2026-07-28) for every request, so
// a session holds no member session at all. What a request needs to be
// sent on — the negotiated revision, the client's capabilities and info —
// is in the session id itself, signed (gateway/session), bound to the
// virtual server and the caller: any replica serves any request of any
// session, with no store.
//
// What a session changes after initialize cannot go into an id it
// already has: the log level (logging/setLevel), the resources subscribed
// to, that the session was deleted. The replica that received the change
// keeps it, in memory (an LRU of maxSessions sessions, for the session
// lifetime); another replica does not know it. Clients keep their
// connection to one replica, so in practice they see their own changes.

// sessionDomain separates virtual session ids from every other id.
const sessionDomain = "virtual-session"

// Bounds of the per-replica session state.
const (
	maxSessions     = 10000
	sessionLifetime = 24 * time.Hour
)

// legacySession is what a virtual session id carries.
type legacySession struct {
	Version string          `json:"v"`
	Caps    json.RawMessage `json:"c,omitempty"`
	Info    json.RawMessage `json:"i,omitempty"`
	Issued  int64           `json:"t"`
	// Nonce makes every session's id its own (two clients alike, in the
	// same second, get two sessions: one can end without the other).
	Nonce string `json:"n"`
}

// meta is the per-request metadata the members get for the session.
func (ls legacySession) meta(level string) mcp.RequestMeta {
	return mcp.RequestMeta{ClientCapabilities: orEmpty(ls.Caps), ClientInfo: ls.Info, LogLevel: level}
}

func sealSession(c *session.Codec, scope session.Scope, ls legacySession) string {
	ls.Nonce = mcp.NewSessionID()[:16]
	b, _ := json.Marshal(ls)
	if len(b) > session.MaxData {
		ls.Info = nil // a client's info is for display: the first to go
		b, _ = json.Marshal(ls)
	}
	return c.SealData(sessionDomain, scope, b)
}

func openSession(c *session.Codec, scope session.Scope, id string, now time.Time) (legacySession, bool) {
	b, err := c.OpenData(sessionDomain, scope, id)
	if err != nil {
		return legacySession{}, false
	}
	var ls legacySession
	if json.Unmarshal(b, &ls) != nil || now.Sub(time.Unix(ls.Issued, 0)) > sessionLifetime {
		return legacySession{}, false
	}
	return ls, true
}

// sessions is this replica's memory of sessions' changes.
type sessions struct {
	lru *cache.LRUExpireCache
}

// sessionState is what one session changed, on this replica.
type sessionState struct {
	mu      sync.Mutex
	level   string
	uris    []string
	ended   bool
	changed chan struct{} // closed when uris change (GET streams resubscribe)
}

func newSessions() *sessions { return &sessions{lru: cache.NewLRUExpireCache(maxSessions)} }

// state returns the session's state on this replica, made if needed.
func (ss *sessions) state(id string) *sessionState {
	if st, ok := ss.lru.Get(id); ok {
		return st.(*sessionState)
	}
	st := &sessionState{changed: make(chan struct{})}
	ss.lru.Add(id, st, sessionLifetime)
	return st
}

func (st *sessionState) get() (level string, uris []string, changed <-chan struct{}, ended bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.level, slices.Clone(st.uris), st.changed, st.ended
}

func (st *sessionState) setLevel(l string) {
	st.mu.Lock()
	st.level = l
	st.mu.Unlock()
}

func (st *sessionState) subscribe(uri string, on bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.uris = slices.DeleteFunc(st.uris, func(u string) bool { return u == uri })
	if on {
		st.uris = append(st.uris, uri)
	}
	close(st.changed)
	st.changed = make(chan struct{})
}

func (st *sessionState) end() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.ended {
		st.ended = true
		close(st.changed)
		st.changed = make(chan struct{})
	}
}
