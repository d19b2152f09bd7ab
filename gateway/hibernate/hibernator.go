package hibernate

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/util/workqueue"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/leader"
)

// gcKey in the queue asks for a sweep of activity Leases without a server.
const gcKey = "\x00gc"

// term is one leadership of this replica: its queue of Deployments to look
// at, and the servers its last probe found busy (worker goroutine only).
type term struct {
	queue workqueue.TypedRateLimitingInterface[string]
	since time.Time
	busy  map[string]bool
}

// elect runs the hibernator on whichever replica holds the Lease.
func (m *Manager) elect(ctx context.Context) {
	if !m.WaitForSync(ctx) {
		return
	}
	e := leader.Election{Client: m.opts.Client, Namespace: m.opts.Namespace, LeaseName: api.HibernatorLease,
		Identity: m.opts.Identity, Logger: m.log,
		LeaseDuration: m.opts.LeaseDuration, RenewDeadline: m.opts.RenewDeadline, RetryPeriod: m.opts.RetryPeriod}
	e.Run(ctx, m.lead)
}

// lead looks at every Deployment now, and again whenever it, or an
// autoscaler aimed at it, changes, or when its decision asked to.
func (m *Manager) lead(ctx context.Context) {
	q := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "hibernator"})
	m.term.Store(&term{queue: q, since: m.now(), busy: map[string]bool{}})
	defer m.term.Store(nil)
	go func() {
		<-ctx.Done()
		q.ShutDown()
	}()
	m.log.Info("hibernator running", "identity", m.opts.Identity)
	q.Add(gcKey)
	for _, d := range m.informers.listDeployments() {
		q.Add(key(d))
	}
	for m.next(ctx, q) {
	}
}

func (m *Manager) next(ctx context.Context, q workqueue.TypedRateLimitingInterface[string]) bool {
	k, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(k)
	if k == gcKey {
		m.activity.collect(ctx)
		return true
	}
	after, err := m.reconcile(ctx, k)
	switch {
	case err != nil && ctx.Err() == nil:
		m.log.Warn("hibernator: will try again", "deployment", k, "error", err.Error())
		q.AddRateLimited(k)
	case after > 0:
		q.Forget(k)
		q.AddAfter(k, after)
	default:
		q.Forget(k)
	}
	return true
}

// reconcile decides for one Deployment and carries the decision out; it
// returns when to look again (0: at its next change).
func (m *Manager) reconcile(ctx context.Context, k string) (time.Duration, error) {
	d := m.informers.deployment(k)
	if d == nil {
		return 0, nil
	}
	pods := PodsUnknown
	decide := func(o Observation) Step {
		o.Pods = pods
		return Hibernator(o)
	}
	for range 2 {
		st, cur, err := m.drive(ctx, d, decide, nil)
		if err != nil {
			return 0, err
		}
		if st.Kind != Probe {
			m.note(cur, st)
			return st.After, nil
		}
		pods = m.probe(ctx, cur)
		if t := m.term.Load(); t != nil && m.sawBusy(t, k, pods) {
			// Open until now, for all this replica knows: a session or
			// stream open is activity, and the window starts again.
			m.activity.Touch(cur.Namespace, cur.Labels[api.ServerLabel])
			pods = PodsBusy
		}
		d = cur
	}
	return retryDoubt, nil
}

// sawBusy reports whether the pods of k are busy, or were busy at the
// previous probe: the probes sample, so a session that closed since may
// have been open until a moment ago, and a window is counted from now.
func (m *Manager) sawBusy(t *term, k string, pods Pods) bool {
	switch pods {
	case PodsBusy:
		t.busy[k] = true
		return true
	case PodsIdle:
		was := t.busy[k]
		delete(t.busy, k)
		return was
	}
	return false
}

// note gives a Stay's event once per Deployment and reason (per process),
// with a log line.
func (m *Manager) note(d *appsv1.Deployment, st Step) {
	if st.Kind != Stay || st.Event == nil {
		return
	}
	if _, said := m.said.LoadOrStore(string(d.UID)+"/"+st.Event.Reason+"/"+st.Event.Message, true); said {
		return
	}
	m.log.Info("hibernation: "+st.Why, "namespace", d.Namespace, "deployment", d.Name, "reason", st.Event.Reason, "message", st.Event.Message)
	m.event(d, st.Event)
}
