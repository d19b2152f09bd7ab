package hibernate

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// maxSteps bounds one drive: a hibernation or a wake takes three calls;
// the rest is room for conflicts.
const maxSteps = 10

// drive applies decide's steps to d, one API call each, deciding again
// from every answer (and from a fresh read after a conflict), until decide
// says anything but Write or Scale. It returns that step and d as last
// written or read; applied, if set, is told of every step that succeeded.
func (m *Manager) drive(ctx context.Context, d *appsv1.Deployment, decide func(Observation) Step, applied func(Step)) (Step, *appsv1.Deployment, error) {
	for range maxSteps {
		st := decide(m.observe(d))
		var next *appsv1.Deployment
		var err error
		switch st.Kind {
		case Write:
			next, err = m.writeRecord(ctx, d, st.Record)
		case Scale:
			next, err = m.scale(ctx, d, st.Replicas)
		default:
			return st, d, nil
		}
		if apierrors.IsConflict(err) {
			m.log.Debug("hibernation: conflict, reading again", "namespace", d.Namespace, "deployment", d.Name, "step", st.Kind.String())
			fresh, err := m.get(ctx, d)
			if err != nil {
				return st, d, errorf(d, "reading after a conflict: %v", err)
			}
			d = fresh
			continue
		}
		if err != nil {
			return st, d, errorf(d, "%s (%s): %v", st.Kind, st.Why, err)
		}
		m.done(d, next, st)
		if applied != nil {
			applied(st)
		}
		d = next
	}
	return Step{}, d, errorf(d, "no settled decision after %d steps", maxSteps)
}

// done reports a step that succeeded: a log line, its event, metrics.
func (m *Manager) done(before, after *appsv1.Deployment, st Step) {
	m.log.Info("hibernation", "namespace", after.Namespace, "deployment", after.Name, "step", st.Kind.String(), "why", st.Why)
	if st.Event != nil {
		m.event(after, st.Event)
	}
	if st.Kind != Scale {
		return
	}
	cause := ""
	if r, _ := recordOf(before); r != nil {
		cause = r.Cause
	}
	if st.Replicas == 0 {
		m.metrics.hibernations.WithLabelValues(serverKey(after), cause).Inc()
	} else {
		m.metrics.wakes.WithLabelValues(serverKey(after), cause).Inc()
	}
}

func (m *Manager) event(d *appsv1.Deployment, e *Event) {
	typ := corev1.EventTypeNormal
	if e.Warning {
		typ = corev1.EventTypeWarning
	}
	m.recorder.Event(d, typ, e.Reason, e.Message)
}

// stateOf is d's record state, "" for none or an unreadable one.
func stateOf(d *appsv1.Deployment) string {
	if r, _ := recordOf(d); r != nil {
		return r.State
	}
	return ""
}

// wakeable: a request for d's server may wake it.
func wakeable(d *appsv1.Deployment) bool {
	switch stateOf(d) {
	case api.HibernationHibernating, api.HibernationHibernated, api.HibernationWaking:
		return true
	}
	return false
}
