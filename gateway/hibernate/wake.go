package hibernate

import (
	"context"
	"errors"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// wakeLimit bounds one wake in this replica (a server whose pods never get
// ready); requests are held for the wake timeout only, and the next one
// starts a new wake if this one ended.
const wakeLimit = 5 * time.Minute

// retryAfter is what a request held past the wake timeout is told.
const retryAfter = 2 * time.Second

// wakeRun is the wake of one Deployment under way in this replica: every
// request and operator for it joins the same one.
type wakeRun struct {
	started  chan struct{} // closed once the first decisions are carried out
	startErr error         // set before started is closed
	record   *api.Hibernation
	failed   chan struct{} // closed when the wake gave up
	err      error         // set before failed is closed
}

// Wake implements proxy.Waker: a request for a server without a ready pod.
// A hibernated server is woken (once, whatever the number of callers and
// replicas) and the request held until a pod takes requests, or until the
// wake timeout. Anything else is ErrNotHibernated.
func (m *Manager) Wake(ctx context.Context, namespace, server string) (bool, time.Duration, error) {
	d := m.deploymentFor(namespace, server)
	if d == nil {
		return false, 0, ErrNotHibernated
	}
	if !wakeable(d) {
		return m.holdStarting(ctx, d)
	}
	run := m.startWake(d, api.CauseRequest, "an MCP request arrived")
	return m.hold(ctx, namespace, server, run)
}

// holdStarting holds a request for a server that is awake but whose pods
// this replica does not see Ready yet: another replica (or this one, a
// moment ago) woke it and let its pod take requests on the sidecar's own
// readiness, before the kubelet's next probe says so. The request waits
// for a pod the same way, asking the sidecars itself, for the wake timeout.
// A server with hibernation off, or with no pod starting, has nothing to
// wait for: ErrNotHibernated (its clients get 503 at once, as before).
func (m *Manager) holdStarting(ctx context.Context, d *appsv1.Deployment) (bool, time.Duration, error) {
	if m.Window(d) == 0 || !m.podStarting(d) {
		return false, 0, ErrNotHibernated
	}
	wait, cancel := context.WithTimeout(ctx, m.opts.WakeTimeout)
	defer cancel()
	if m.awaitPods(wait, d, nil) {
		return true, 0, nil
	}
	if ctx.Err() != nil {
		return false, 0, ctx.Err()
	}
	return false, retryAfter, nil
}

// podStarting reports whether a pod of d's server exists, not Ready and
// not terminating, as this replica sees it.
func (m *Manager) podStarting(d *appsv1.Deployment) bool {
	for _, ep := range m.pods.Endpoints(d.Namespace, d.Labels[api.ServerLabel]) {
		if !ep.Ready && !ep.Terminating {
			return true
		}
	}
	return false
}

// hold waits for a pod of the server to take requests: on the registry's
// changes, never by polling.
func (m *Manager) hold(ctx context.Context, namespace, server string, run *wakeRun) (bool, time.Duration, error) {
	label := namespace + "/" + server
	m.metrics.holding.WithLabelValues(label).Inc()
	defer m.metrics.holding.WithLabelValues(label).Dec()
	budget := time.NewTimer(m.opts.WakeTimeout)
	defer budget.Stop()
	for {
		changed := m.pods.Changed(namespace, server)
		if m.pods.Pick(namespace, server, nil) != nil {
			m.metrics.held.WithLabelValues(label, "ready").Inc()
			return true, 0, nil
		}
		select {
		case <-changed:
		case <-run.failed:
			m.metrics.held.WithLabelValues(label, "failed").Inc()
			return false, 0, run.err
		case <-budget.C:
			m.metrics.held.WithLabelValues(label, "timeout").Inc()
			return false, retryAfter, nil
		case <-ctx.Done():
			m.metrics.held.WithLabelValues(label, "gone").Inc()
			return false, 0, ctx.Err()
		}
	}
}

// startWake joins the wake of d under way here, or starts one.
func (m *Manager) startWake(d *appsv1.Deployment, cause, reason string) *wakeRun {
	m.mu.Lock()
	defer m.mu.Unlock()
	if run := m.wakes[key(d)]; run != nil {
		return run
	}
	run := &wakeRun{started: make(chan struct{}), failed: make(chan struct{})}
	m.wakes[key(d)] = run
	go m.runWake(d, cause, reason, run)
	return run
}

// runWake drives the wake until a pod of the server takes requests, then
// drops the record. It outlives the requests that wait for it.
func (m *Manager) runWake(d *appsv1.Deployment, cause, reason string, run *wakeRun) {
	defer func() {
		m.mu.Lock()
		delete(m.wakes, key(d))
		m.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(m.ctx, wakeLimit)
	defer cancel()
	// The run that wrote the wake's record measures it, whoever scales:
	// the leader may carry out a recorded wake before this run reads again.
	start, ours := m.now(), false
	decide := func(o Observation) Step { return Wake(o, cause, reason) }
	applied := func(Step) { ours = true }
	err := m.untilServing(ctx, d, decide, applied, run)
	if err != nil {
		run.err = err
		close(run.failed)
		if m.ctx.Err() == nil && !errors.Is(err, ErrNotHibernated) {
			m.log.Warn("wake failed", "namespace", d.Namespace, "deployment", d.Name, "error", err.Error())
		}
		return
	}
	if ours {
		m.metrics.wakeDuration.WithLabelValues(serverKey(d)).Observe(m.now().Sub(start).Seconds())
	}
	if cur := m.informers.deployment(key(d)); cur != nil {
		d = cur
	}
	if _, _, err := m.drive(ctx, d, Finalize, nil); err != nil {
		m.log.Info("wake: the record stays for the hibernator to drop", "namespace", d.Namespace, "deployment", d.Name, "error", err.Error())
	}
}

// untilServing carries out the wake's decisions, deciding again whenever
// the Deployment changes (an operator, another replica, a crash left it
// half done), until a pod of the server takes requests.
func (m *Manager) untilServing(ctx context.Context, d *appsv1.Deployment, decide func(Observation) Step, applied func(Step), run *wakeRun) error {
	first := true
	for {
		depChanged := m.changes.Changed(key(d))
		st, cur, err := m.drive(ctx, d, decide, applied)
		if err == nil && st.Kind == Refuse {
			err = st.Err
		}
		if first {
			run.startErr, first = err, false
			run.record, _ = recordOf(cur)
			close(run.started)
		}
		if err != nil || st.Kind == Done {
			return err
		}
		if m.awaitPods(ctx, cur, depChanged) {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if latest := m.informers.deployment(key(d)); latest != nil {
			d = latest
		} else {
			d = cur
		}
	}
}

// awaitPods waits until a pod of d's server takes requests (true), or d
// changes, or ctx ends (false). Pods the kubelet has not reported Ready yet
// are asked directly: the kubelet's probe runs only every few seconds, and
// nothing else says the sidecar is ready before it does.
func (m *Manager) awaitPods(ctx context.Context, d *appsv1.Deployment, depChanged <-chan struct{}) bool {
	ns, server := d.Namespace, d.Labels[api.ServerLabel]
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		changed := m.pods.Changed(ns, server)
		if m.pods.Pick(ns, server, nil) != nil {
			return true
		}
		var poll <-chan time.Time
		for _, ep := range m.pods.Endpoints(ns, server) {
			if !ep.Ready && !ep.Terminating {
				if m.serving(ctx, ep) {
					m.pods.MarkServing(ep.UID, servingMark)
				}
				poll = tick.C
			}
		}
		if m.pods.Pick(ns, server, nil) != nil {
			return true
		}
		select {
		case <-changed:
		case <-poll:
		case <-depChanged:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// WakeNow wakes a server for an operator: it returns once the wake is
// recorded and the scale-up asked for (not when a pod is ready), with the
// record as it then is.
func (m *Manager) WakeNow(ctx context.Context, namespace, server, by string) (*api.Hibernation, error) {
	d, err := m.fresh(ctx, namespace, server)
	if err != nil {
		return nil, err
	}
	m.activity.Touch(namespace, server) // a window from now, traffic or not
	run := m.startWake(d, api.CauseOperator, "woken by "+by)
	select {
	case <-run.started:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if run.startErr != nil {
		return nil, run.startErr
	}
	return run.record, nil
}

// HibernateNow hibernates a server for an operator, whatever its traffic.
func (m *Manager) HibernateNow(ctx context.Context, namespace, server, by string) (*api.Hibernation, error) {
	d, err := m.fresh(ctx, namespace, server)
	if err != nil {
		return nil, err
	}
	st, cur, err := m.drive(ctx, d, func(o Observation) Step { return Hibernate(o, "hibernated by "+by) }, nil)
	switch {
	case err != nil:
		return nil, err
	case st.Kind == Refuse:
		return nil, st.Err
	}
	r, _ := recordOf(cur)
	return r, nil
}

// fresh reads the server's Deployment from the API server: an operator may
// act right after a change this replica's cache has not seen yet.
func (m *Manager) fresh(ctx context.Context, namespace, server string) (*appsv1.Deployment, error) {
	d := m.deploymentFor(namespace, server)
	if d == nil {
		return nil, ErrNotFound
	}
	return m.get(ctx, d)
}
