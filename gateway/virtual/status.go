package virtual

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/archestra-ai/mcp-orchestrator/gateway/admin"
)

// Events on a definition's ConfigMap.
const (
	reasonInvalid  = "VirtualServerInvalid"
	reasonShadowed = "VirtualServerShadowed"
	reasonServing  = "VirtualServerServing"
)

// reporter says what became of each definition, once per change, as an
// event on its ConfigMap and a log line (each replica does: the API
// server's event aggregation counts them).
type reporter struct {
	log         *slog.Logger
	client      kubernetes.Interface
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
	mu          sync.Mutex
	last        map[types.UID]string
}

func newReporter(client kubernetes.Interface, log *slog.Logger) *reporter {
	b := record.NewBroadcaster()
	return &reporter{log: log, client: client, broadcaster: b, last: map[types.UID]string{},
		recorder: b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "mcp-gateway"})}
}

func (rp *reporter) start(ctx context.Context) {
	rp.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: rp.client.CoreV1().Events("")})
	go func() {
		<-ctx.Done()
		rp.broadcaster.Shutdown()
	}()
}

// report is the index's: called for each ConfigMap after a rebuild.
func (v *Virtual) report(cm *corev1.ConfigMap, s *Server) {
	if s == nil {
		return
	}
	typ, reason, msg := corev1.EventTypeNormal, reasonServing, fmt.Sprintf("serving %d members at /mcp/%s/%s", len(s.Members), s.Namespace, s.Name)
	switch {
	case s.Shadowed:
		typ, reason, msg = corev1.EventTypeWarning, reasonShadowed,
			fmt.Sprintf("not served: a server named %s exists in namespace %s and keeps /mcp/%s/%s", s.Name, s.Namespace, s.Namespace, s.Name)
	case !s.Valid():
		typ, reason, msg = corev1.EventTypeWarning, reasonInvalid, "not served: "+strings.Join(s.Problems, "; ")
	}
	if len(msg) > 1024 {
		msg = msg[:1021] + "..."
	}
	rp := v.events
	rp.mu.Lock()
	same := rp.last[cm.UID] == reason+msg
	rp.last[cm.UID] = reason + msg
	rp.mu.Unlock()
	if same {
		return
	}
	level := slog.LevelInfo
	if typ == corev1.EventTypeWarning {
		level = slog.LevelWarn
	}
	v.opts.Log.Log(context.Background(), level, "virtual server definition", "virtual", s.Key(), "configmap", cm.Name, "reason", reason, "message", msg)
	rp.recorder.Event(cm, typ, reason, msg)
}

// VirtualStatuses implements admin.VirtualServers.
func (v *Virtual) VirtualStatuses(namespace string) []admin.VirtualServerStatus {
	out := []admin.VirtualServerStatus{}
	for _, s := range v.index.List(namespace) {
		out = append(out, v.status(s))
	}
	return out
}

// VirtualStatus implements admin.VirtualServers.
func (v *Virtual) VirtualStatus(namespace, name string) (admin.VirtualServerStatus, bool) {
	s := v.index.Lookup(namespace, name)
	if s == nil {
		return admin.VirtualServerStatus{}, false
	}
	return v.status(s), true
}

func (v *Virtual) status(s *Server) admin.VirtualServerStatus {
	st := admin.VirtualServerStatus{Namespace: s.Namespace, Name: s.Name, ConfigMaps: s.ConfigMaps, State: admin.VirtualServing,
		Problems: s.Problems, Title: s.Def.Title, Endpoint: "/mcp/" + s.Namespace + "/" + s.Name}
	switch {
	case s.Shadowed:
		st.State = admin.VirtualShadowed
	case !s.Valid():
		st.State = admin.VirtualInvalid
	}
	for _, m := range s.Members {
		st.Members = append(st.Members, v.memberStatus(s, m))
	}
	return st
}

func (v *Virtual) memberStatus(s *Server, m *Member) admin.VirtualMemberStatus {
	ms := admin.VirtualMemberStatus{Server: m.Server, Prefix: m.Prefix, Tools: m.Assigned(kindTool), Prompts: m.Assigned(kindPrompt),
		Resources: []string{"*"}, LeftOut: v.lastLeftOut(s, m)}
	if m.resources != nil {
		ms.Resources = *m.resources
	}
	for _, e := range v.opts.Pods.Endpoints(s.Namespace, m.Server) {
		ms.Pods++
		if e.Ready && !e.Terminating {
			ms.ReadyPods++
		}
	}
	switch {
	case ms.ReadyPods > 0:
		ms.State = admin.MemberReady
	case v.opts.Hibernated != nil && v.opts.Hibernated(s.Namespace, m.Server):
		ms.State = admin.MemberHibernated
	case ms.Pods > 0 || v.index.hasServer(s.Namespace, m.Server):
		ms.State = admin.MemberNotReady
	default:
		ms.State = admin.MemberMissing
	}
	return ms
}

// lastLeftOut is this replica's memory of the member's last absence.
func (v *Virtual) lastLeftOut(s *Server, m *Member) *admin.LeftOut {
	v.absences.mu.Lock()
	defer v.absences.mu.Unlock()
	a, ok := v.absences.last[s.Key()+"/"+m.Server]
	if !ok {
		return nil
	}
	return &admin.LeftOut{Reason: a.reason, Error: a.err, At: a.at.UTC().Format(time.RFC3339)}
}

// absences remembers, per virtual server and member, the last time it was
// left out of a list.
type absences struct {
	mu   sync.Mutex
	last map[string]absence
}

type absence struct {
	reason, err string
	at          time.Time
}

func (a *absences) note(s *Server, m *Member, reason string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.last == nil {
		a.last = map[string]absence{}
	}
	a.last[s.Key()+"/"+m.Server] = absence{reason: reason, err: err.Error(), at: time.Now()}
}
