package virtual

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// memberListen keeps one member's subscriptions/listen open for a client's
// subscription: opened when the member has a ready pod (a listen never
// wakes a hibernated member; its next call does), opened again when its
// stream ends, and the member's coming and going reported as events.
type memberListen struct {
	sub    *subscription
	m      *Member
	f      filter
	events chan memberEvent
	ack    chan struct{}
	once   sync.Once
}

// backoff bounds between attempts to reopen a member's listen that failed.
const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
)

func (ml *memberListen) acked() { ml.once.Do(func() { close(ml.ack) }) }

func (ml *memberListen) run(ctx context.Context) {
	defer ml.acked()
	s, v := ml.sub.c.q.s, ml.sub.v
	go ml.watchPods(ctx)
	wait := minBackoff
	for ctx.Err() == nil {
		changed := v.opts.Pods.Changed(s.Namespace, ml.m.Server)
		if !v.available(s, ml.m) {
			ml.acked() // nothing to wait for
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return
			}
		}
		if v.isLegacy(ml.sub.c, ml.m) {
			ml.acked() // no listen to relay: a session-revision member
			<-ctx.Done()
			return
		}
		if ml.relayOnce(ctx) {
			wait = minBackoff
			continue
		}
		ml.acked()
		select {
		case <-time.After(wait):
			wait = min(2*wait, maxBackoff)
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// watchPods reports each change of the member's ready pods: it came, went,
// or rolled out (an allowed-tools change, a new version), after which its
// lists may differ.
func (ml *memberListen) watchPods(ctx context.Context) {
	s, v := ml.sub.c.q.s, ml.sub.v
	last := v.readyPods(s, ml.m)
	for {
		changed := v.opts.Pods.Changed(s.Namespace, ml.m.Server)
		if now := v.readyPods(s, ml.m); now != last {
			last = now
			ml.event(ctx, nil)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// relayOnce opens the member's listen and relays it until it ends, or the
// member has no ready pod left (its stream may linger until the pod's
// connection breaks); true when it was open.
func (ml *memberListen) relayOnce(ctx context.Context) bool {
	s, v := ml.sub.c.q.s, ml.sub.v
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go ml.whileAvailable(ctx, cancel)
	params, _ := json.Marshal(map[string]any{"_meta": json.RawMessage(ml.sub.c.metaJSON()), "notifications": ml.f})
	id := json.RawMessage(`"virtual-listen"`)
	resp := roundTrip(v.opts.Members, memberRequest(ctx, ml.sub.c.q.r, s, ml.m, api.MethodSubscriptionsListen, "", rpcBody(id, api.MethodSubscriptionsListen, params)))
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	ms, err := newMessages(resp)
	if err != nil {
		return false
	}
	open := false
	for {
		msg, err := ms.next()
		if err != nil || msg.Kind == mcp.KindResponse {
			return open
		}
		if msg.Method == api.MethodSubscriptionsAcknowledged {
			open = true
			ml.acked()
			continue
		}
		if msg.Kind == mcp.KindNotification {
			ml.event(ctx, msg.Raw)
		}
	}
}

// whileAvailable calls gone once the member has no ready pod.
func (ml *memberListen) whileAvailable(ctx context.Context, gone context.CancelFunc) {
	s, v := ml.sub.c.q.s, ml.sub.v
	for {
		changed := v.opts.Pods.Changed(s.Namespace, ml.m.Server)
		if !v.available(s, ml.m) {
			gone()
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

func (ml *memberListen) event(ctx context.Context, raw []byte) {
	select {
	case ml.events <- memberEvent{m: ml.m, raw: raw}:
	case <-ctx.Done():
	}
}
