package hibernate

import "github.com/archestra-ai/mcp-orchestrator/api"

// Wake is the decision of any replica asked to wake a server, by a request
// or by an operator (cause and reason go into the record).
func Wake(o Observation, cause, reason string) Step {
	switch o.state() {
	case "invalid":
		return refuse(ErrNotHibernated, "the hibernation record is unreadable")
	case api.HibernationHibernating:
		switch {
		case o.Replicas == 0:
			return startWake(o, cause, reason)
		case o.Record.Cause == api.CauseOperator:
			// An operator's decision is carried out; the wake follows.
			return Step{Kind: Wait, Why: "an operator is hibernating it: woken once it is scaled down"}
		}
		return write(o.awakeRecord(""), "woken while hibernating: cancelled")
	case api.HibernationHibernated:
		if o.Replicas == 0 {
			return startWake(o, cause, reason)
		}
		// Scaled up by someone else (the leader records it): pods come.
		if o.Ready {
			return Step{Kind: Done, Why: "awake"}
		}
		return Step{Kind: Wait, Why: "scaled up by someone else: waiting for a ready pod"}
	case api.HibernationWaking:
		return waking(o)
	}
	switch {
	case o.Ready:
		return Step{Kind: Done, Why: "awake"}
	case o.Replicas == 0:
		return refuse(ErrNotHibernated, "scaled to 0 by someone else")
	}
	return refuse(ErrNotHibernated, "it runs, its pods are not ready yet")
}

func startWake(o Observation, cause, reason string) Step {
	return write(o.record(api.HibernationWaking, o.Record.Replicas, cause, reason), "recording the wake")
}

// Finalize ends a wake once a pod is ready: only a waking record is the
// waker's to drop; anything else is someone's newer decision.
func Finalize(o Observation) Step {
	if o.state() != api.HibernationWaking {
		return Step{Kind: Done, Why: "no wake to finish"}
	}
	return waking(o)
}

// Hibernate is an operator's decision to hibernate a server now, whatever
// its traffic (sessions still open end with the pod's drain).
func Hibernate(o Observation, reason string) Step {
	switch {
	case o.state() == "invalid":
		return refuse(ErrRefused, "the hibernation record is unreadable; remove the annotation "+api.AnnHibernation)
	case o.HPA != "":
		return refuse(ErrRefused, "HorizontalPodAutoscaler "+o.HPA+" targets it: its replicas are the autoscaler's")
	}
	ours := func(replicas int32) Step {
		r := o.record(api.HibernationHibernating, replicas, api.CauseOperator, reason)
		r.Overrides = 0 // an operator's decision starts the count again
		return write(r, "recording the replicas to restore")
	}
	switch o.state() {
	case api.HibernationHibernated:
		if o.Replicas == 0 {
			return Step{Kind: Done, Why: "hibernated"}
		}
		return ours(o.Replicas)
	case api.HibernationHibernating:
		if r := o.Record; o.Replicas == 0 || (o.Replicas == r.Replicas && r.Cause == api.CauseOperator) {
			return hibernating(o)
		}
		return ours(o.Replicas)
	case api.HibernationWaking:
		return ours(o.Record.Replicas)
	}
	if o.Replicas == 0 {
		return refuse(ErrRefused, "already at 0 replicas, scaled by someone else: there would be nothing to restore")
	}
	return ours(o.Replicas)
}
