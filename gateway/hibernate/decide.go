package hibernate

import (
	"fmt"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// retryDoubt is how soon a server is looked at again after a doubt (a
// rollout, a pod that could not be asked).
const retryDoubt = 10 * time.Second

// Hibernator is the leader's decision for one Deployment: hibernate it when
// idle, finish or undo what a crashed replica left half done, notice who
// else owns its replicas, and otherwise say when to look again.
func Hibernator(o Observation) Step {
	switch o.state() {
	case "invalid":
		return stay(0, "the hibernation record is unreadable: left alone")
	case api.HibernationUnmanaged:
		return stay(0, "someone else owns the replicas: left alone")
	case api.HibernationHibernating:
		return hibernating(o)
	case api.HibernationHibernated:
		return hibernated(o)
	case api.HibernationWaking:
		if st := waking(o); st.Kind != Wait {
			return st
		}
		return stay(0, "waking: waiting for a ready pod")
	}
	return awake(o)
}

// awake decides for a running server (no record, or an awake one).
func awake(o Observation) Step {
	switch {
	case o.Window == 0:
		return stay(0, "hibernation is off")
	case o.HPA != "":
		st := stay(0, "an autoscaler owns the replicas")
		st.Event = &Event{Warning: true, Reason: "HibernationSkipped",
			Message: fmt.Sprintf("HorizontalPodAutoscaler %s targets this Deployment: it is never hibernated", o.HPA)}
		return st
	case o.Replicas == 0:
		return stay(0, "scaled to 0 by someone else: left alone")
	case o.RollingOut:
		return stay(retryDoubt, "a rollout is in progress")
	}
	last := o.LastActive
	if o.Record != nil && o.Record.Since.After(last) {
		last = o.Record.Since // scaled up by someone else: a window from then
	}
	if idle := o.Now.Sub(last); idle < o.Window+o.Slack {
		return stay(o.Window+o.Slack-idle, "active")
	}
	switch o.Pods {
	case PodsUnknown:
		return Step{Kind: Probe, Why: "idle for the window: asking the pods"}
	case PodsBusy:
		return stay(o.Window, "a session or stream is open")
	case PodsFailed:
		return stay(retryDoubt, "a pod could not be asked")
	}
	reason := fmt.Sprintf("no MCP traffic and nothing open for %s", o.Window)
	return write(o.record(api.HibernationHibernating, o.Replicas, api.CauseIdle, reason), "idle: recording the replicas to restore")
}

// hibernating continues or undoes a hibernation whose record is written:
// the scale to 0 follows unless something changed since.
func hibernating(o Observation) Step {
	r := o.Record
	switch {
	case o.Replicas == 0:
		next := *r
		next.State, next.Since, next.By = api.HibernationHibernated, o.Now, o.By
		return write(&next, "scaled to 0: hibernated")
	case o.Replicas != r.Replicas:
		return write(o.awakeRecord(""), "replicas changed by someone else while hibernating: cancelled")
	case r.Cause == api.CauseIdle:
		if why := cancelIdle(o); why != "" {
			return write(o.awakeRecord(""), why+": cancelled")
		}
	}
	st := Step{Kind: Scale, Replicas: 0, Why: "scaling to 0"}
	st.Event = &Event{Reason: "Hibernated", Message: fmt.Sprintf("scaled to 0: %s; the next MCP request restores %s", r.Reason, plural(r.Replicas))}
	return st
}

// cancelIdle says why an idle hibernation recorded but not carried out
// must not go on, "" when it may.
func cancelIdle(o Observation) string {
	switch {
	case o.LastActive.After(o.Record.Since):
		return "activity since it was recorded"
	case o.HPA != "":
		return "an autoscaler targets it"
	case o.Window == 0:
		return "hibernation was turned off"
	}
	return "" // no rollout check: the record's write itself bumps the generation

}

// hibernated watches a hibernated server: someone else may scale it up, an
// autoscaler may appear, hibernation may be turned off.
func hibernated(o Observation) Step {
	r := o.Record
	switch {
	case o.Replicas > 0:
		return overridden(o)
	case o.HPA != "":
		return write(o.record(api.HibernationWaking, r.Replicas, api.CauseAutoscaler,
			"HorizontalPodAutoscaler "+o.HPA+" targets it now"), "an autoscaler appeared: restoring")
	case o.Window == 0 && r.Cause == api.CauseIdle:
		return write(o.record(api.HibernationWaking, r.Replicas, api.CauseConfig, "hibernation was turned off"), "hibernation turned off: restoring")
	}
	return stay(0, "hibernated")
}

// overridden: someone else scaled a hibernated server up. Twice in a row,
// and the replicas are theirs.
func overridden(o Observation) Step {
	n := o.overrides() + 1
	if n >= 2 {
		r := o.record(api.HibernationUnmanaged, 0, api.CauseOthers,
			"scaled up by someone else after each of two hibernations: the replicas are not ours to set")
		r.Overrides = n
		st := write(r, "scaled up by someone else twice: left alone from now on")
		st.Event = &Event{Warning: true, Reason: "HibernationDisabled", Message: "someone else scaled this Deployment up after each of two hibernations (an HPA, KEDA, GitOps or a person): it is not hibernated any more; remove the annotation " + api.AnnHibernation + " to start again"}
		return st
	}
	r := o.record(api.HibernationAwake, 0, api.CauseOthers, fmt.Sprintf("scaled to %s by someone else after a hibernation", plural(o.Replicas)))
	r.Overrides = n
	st := write(r, "scaled up by someone else")
	st.Event = &Event{Reason: "HibernationOverridden", Message: r.Reason + "; once more and it is left alone"}
	return st
}

// waking continues a wake: scale back up, then, once a pod is ready, drop
// the record.
func waking(o Observation) Step {
	r := o.Record
	switch {
	case o.Replicas == 0:
		st := Step{Kind: Scale, Replicas: r.Replicas, Why: "scaling back up"}
		st.Event = &Event{Reason: "Woken", Message: fmt.Sprintf("scaled back to %s: %s", plural(r.Replicas), r.Reason)}
		return st
	case o.Ready:
		return write(nil, "a pod is ready: awake")
	}
	return Step{Kind: Wait, Why: "waiting for a ready pod"}
}
