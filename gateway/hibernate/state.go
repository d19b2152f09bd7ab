package hibernate

import (
	"errors"
	"fmt"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// ErrNotHibernated: there is nothing to wake (no record of ours, or the
// Deployment was scaled to 0 by someone else). The proxy then answers as it
// always does.
var ErrNotHibernated = errors.New("not hibernated")

// ErrNotFound: no Deployment carries the server's label.
var ErrNotFound = errors.New("no Deployment for the server")

// ErrRefused: an operator's request the state does not allow (an HPA
// targets the Deployment, it is already at 0, the record is unreadable).
var ErrRefused = errors.New("refused")

// Pods is what the pods' sidecars said about open sessions and streams.
type Pods int

const (
	PodsUnknown Pods = iota // not asked yet
	PodsIdle                // every pod answered: nothing open
	PodsBusy                // a session or a request is open somewhere
	PodsFailed              // a pod could not be asked: never hibernate on doubt
)

// Observation is what one decision is made from: a Deployment as last seen,
// and what else this replica knows about its server.
type Observation struct {
	Now time.Time
	// Record is the hibernation record; nil: none. RecordErr: unreadable.
	Record    *api.Hibernation
	RecordErr error
	// Replicas is spec.replicas (1 when unset).
	Replicas   int32
	RollingOut bool
	// Ready: a pod of the server takes requests (discovery).
	Ready bool
	// Window is the effective hibernate-after; 0: off.
	Window time.Duration
	// HPA names an autoscaler targeting the Deployment; "": none.
	HPA string
	// LastActive is the latest activity known; activity is recorded up to
	// Slack late, so a server is idle after Window + Slack.
	LastActive time.Time
	Slack      time.Duration
	Pods       Pods
	// By is this replica, written into records.
	By string
}

// Kind of a Step.
type Kind int

const (
	Stay   Kind = iota // nothing to do now; look again After (0: at the next change)
	Probe              // ask the pods' sidecars, then decide again
	Write              // write Record (nil: remove it), compare-and-swap on resourceVersion
	Scale              // set Replicas through the scale subresource, compare-and-swap
	Wait               // a wake is under way: wait for a pod to be ready
	Done               // the goal of the caller is reached
	Refuse             // the caller's goal cannot be reached: Err says why
)

func (k Kind) String() string {
	return [...]string{"stay", "probe", "write", "scale", "wait", "done", "refuse"}[k]
}

// Step is the one next thing to do. Every step is a single API call at
// most, and every decision is made again from what the API answered, so a
// crash or a conflict between two calls leaves a state the next decision
// (by any replica) continues from.
type Step struct {
	Kind     Kind
	Record   *api.Hibernation // Write
	Replicas int32            // Scale
	// Event is reported on the Deployment once the step succeeded; for
	// Stay, once per Deployment and leader term (a note).
	Event *Event
	After time.Duration // Stay
	Err   error         // Refuse
	Why   string
}

// Event is a Kubernetes event on the Deployment.
type Event struct {
	Warning bool
	Reason  string
	Message string
}

func stay(after time.Duration, why string) Step { return Step{Kind: Stay, After: after, Why: why} }

func refuse(err error, why string) Step {
	return Step{Kind: Refuse, Err: fmt.Errorf("%w: %s", err, why), Why: why}
}

func write(r *api.Hibernation, why string) Step { return Step{Kind: Write, Record: r, Why: why} }

// state names the phase of an observation: a record's state, "" for none,
// "invalid" for an unreadable record.
func (o Observation) state() string {
	switch {
	case o.RecordErr != nil:
		return "invalid"
	case o.Record == nil:
		return ""
	}
	return o.Record.State
}

// overrides is the record's count of scale-ups by someone else.
func (o Observation) overrides() int {
	if o.Record == nil {
		return 0
	}
	return o.Record.Overrides
}

// record returns a new record in state, carrying the override count.
func (o Observation) record(state string, replicas int32, cause, reason string) *api.Hibernation {
	return &api.Hibernation{State: state, Replicas: replicas, Since: o.Now, Cause: cause, Reason: reason, By: o.By, Overrides: o.overrides()}
}

// awakeRecord is what is left of the record when the server runs: nothing,
// unless someone else scaled it up after a hibernation (kept to count).
func (o Observation) awakeRecord(reason string) *api.Hibernation {
	if o.overrides() == 0 {
		return nil
	}
	return o.record(api.HibernationAwake, 0, api.CauseOthers, reason)
}

func plural(n int32) string {
	if n == 1 {
		return "1 replica"
	}
	return fmt.Sprintf("%d replicas", n)
}
