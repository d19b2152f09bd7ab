package hibernate

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// observe is what this replica knows about d right now.
func (m *Manager) observe(d *appsv1.Deployment) Observation {
	server := d.Labels[api.ServerLabel]
	o := Observation{
		Now:        m.now(),
		Replicas:   specReplicas(d),
		RollingOut: rollingOut(d),
		Ready:      m.pods.Pick(d.Namespace, server, nil) != nil,
		Window:     m.Window(d),
		HPA:        m.informers.hpaFor(d),
		Slack:      2 * m.opts.ActivityInterval,
		By:         m.opts.Identity,
	}
	o.Record, o.RecordErr = recordOf(d)
	o.LastActive = m.activity.Last(d.Namespace, server)
	// No activity known before: the server's creation, and the term of
	// this leader (touches the previous leader never wrote are unknown).
	for _, t := range []time.Time{d.CreationTimestamp.Time, m.leaderSince()} {
		if t.After(o.LastActive) {
			o.LastActive = t
		}
	}
	return o
}

func recordOf(d *appsv1.Deployment) (*api.Hibernation, error) {
	v, ok := d.Annotations[api.AnnHibernation]
	if !ok {
		return nil, nil
	}
	r, err := api.ParseHibernation(v)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func specReplicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// rollingOut reports a Deployment whose pods are not all of its current
// template yet, or whose controller has not seen its latest generation
// (annotation changes bump it too, the gateway's records included): never
// hibernated in the middle of that.
func rollingOut(d *appsv1.Deployment) bool {
	r, st := specReplicas(d), d.Status
	return st.ObservedGeneration < d.Generation || st.UpdatedReplicas != r || st.Replicas != r
}

func (m *Manager) leaderSince() time.Time {
	if t := m.term.Load(); t != nil {
		return t.since
	}
	return time.Time{}
}

// deploymentChanged is the Deployment informer's handler: wakes waiting
// here re-decide, and the leader looks at it again.
func (m *Manager) deploymentChanged(d *appsv1.Deployment, deleted bool) {
	m.changes.Notify(key(d))
	if t := m.term.Load(); t != nil {
		t.queue.Add(key(d))
		if deleted {
			t.queue.Add(gcKey)
		}
	}
}

// hpaChanged: the Deployment it targets is looked at again.
func (m *Manager) hpaChanged(h *autoscalingv2.HorizontalPodAutoscaler) {
	if t := m.term.Load(); t != nil {
		if k := target(h); k != "" {
			t.queue.Add(k)
		}
	}
}
