package virtual

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"sync"

	"github.com/archestra-ai/mcp-orchestrator/gateway/session"
)

// A legacy client answers a server request (elicitation, sampling, roots)
// in a POST of its own, which may reach another replica than the one
// holding the request's stream. The id of every server request says which
// replica asked, signed so that a client cannot make the gateway send it
// anywhere else: "vs.<replica>.<n>.<tag>". A replica that gets an answer
// for another one forwards it there (the same request, to that replica's
// address); the replica that asked hands it to the request waiting for it.

const answerDomain = "virtual-answer"

// waiters are the server requests this replica has asked and not yet had
// answered.
type waiters struct {
	peer  string // this replica's address ("" when it has none)
	token string // peer, as it is written in ids
	mu    sync.Mutex
	next  uint64
	open  map[string]*waiter
}

type waiter struct {
	session string
	ch      chan json.RawMessage // the whole answer message, once
}

func newWaiters(peer string) *waiters {
	return &waiters{peer: peer, token: peerToken(peer), open: map[string]*waiter{}}
}

func peerToken(peer string) string {
	if peer == "" {
		return "-"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(peer))
}

// add registers a server request of the session and returns its id.
func (ws *waiters) add(c *session.Codec, sessionID string) (string, *waiter) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.next++
	n := strconv.FormatUint(ws.next, 10)
	id := "vs." + ws.token + "." + n
	id += "." + c.Tag(answerDomain, sessionID, id)
	w := &waiter{session: sessionID, ch: make(chan json.RawMessage, 1)}
	ws.open[id] = w
	return id, w
}

func (ws *waiters) remove(id string) {
	ws.mu.Lock()
	delete(ws.open, id)
	ws.mu.Unlock()
}

// route tells where the answer with id (a JSON string's text) of a
// session goes: here (delivered, true), another replica (its address), or
// nowhere (not one of ours, or no longer waited for).
func (ws *waiters) route(c *session.Codec, sessionID, id string, answer json.RawMessage) (peer string, delivered bool) {
	parts := strings.Split(id, ".")
	if len(parts) != 4 || parts[0] != "vs" || !c.CheckTag(parts[3], answerDomain, sessionID, strings.Join(parts[:3], ".")) {
		return "", false
	}
	if parts[1] != ws.token {
		b, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			return "", false
		}
		return string(b), false
	}
	ws.mu.Lock()
	w := ws.open[id]
	delete(ws.open, id)
	ws.mu.Unlock()
	if w == nil || w.session != sessionID {
		return "", false
	}
	w.ch <- answer
	return "", true
}
