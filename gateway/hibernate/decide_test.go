package hibernate

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const window = 30 * time.Minute

// obs is an awake, idle server with hibernation on: every case changes it.
func obs(change ...func(*Observation)) Observation {
	o := Observation{Now: t0, Replicas: 2, Ready: true, Window: window, LastActive: t0.Add(-time.Hour),
		Slack: time.Minute, Pods: PodsIdle, By: "gw-1"}
	for _, c := range change {
		c(&o)
	}
	return o
}

func rec(state string, replicas int32, cause string) func(*Observation) {
	return func(o *Observation) {
		o.Record = &api.Hibernation{State: state, Replicas: replicas, Since: t0.Add(-time.Minute), Cause: cause, Reason: "why", By: "gw-0"}
	}
}

func replicas(n int32) func(*Observation) { return func(o *Observation) { o.Replicas = n } }
func ready(b bool) func(*Observation)     { return func(o *Observation) { o.Ready = b } }
func pods(p Pods) func(*Observation)      { return func(o *Observation) { o.Pods = p } }
func hpa(o *Observation)                  { o.HPA = "web" }
func off(o *Observation)                  { o.Window = 0 }
func overrides(n int) func(*Observation)  { return func(o *Observation) { o.Record.Overrides = n } }
func activeAt(d time.Duration) func(*Observation) {
	return func(o *Observation) { o.LastActive = t0.Add(d) }
}
func invalid(o *Observation) { o.RecordErr = errors.New("not JSON") }
func since(d time.Duration) func(*Observation) {
	return func(o *Observation) { o.Record.Since = t0.Add(d) }
}

// want describes the expected step: its kind, and for a Write the new
// record's state ("" for removal), replicas and cause.
type want struct {
	kind     Kind
	state    string
	replicas int32
	cause    string
	event    string
	after    time.Duration
	err      error
}

func check(t *testing.T, got Step, w want) {
	t.Helper()
	require.Equal(t, w.kind, got.Kind, "step %+v (%s)", got, got.Why)
	switch got.Kind {
	case Write:
		if w.state == "" {
			assert.Nil(t, got.Record, "the record is removed")
			break
		}
		require.NotNil(t, got.Record)
		assert.Equal(t, w.state, got.Record.State)
		assert.Equal(t, w.replicas, got.Record.Replicas)
		assert.Equal(t, w.cause, got.Record.Cause)
		assert.Equal(t, "gw-1", got.Record.By, "records name their writer")
		_, err := api.ParseHibernation(api.EncodeHibernation(*got.Record))
		assert.NoError(t, err, "every record written is readable")
	case Scale:
		assert.Equal(t, w.replicas, got.Replicas)
	case Stay:
		assert.Equal(t, w.after, got.After)
	case Refuse:
		assert.ErrorIs(t, got.Err, w.err)
	}
	if w.event != "" {
		require.NotNil(t, got.Event)
		assert.Equal(t, w.event, got.Event.Reason)
	} else {
		assert.Nil(t, got.Event)
	}
}

func TestHibernator(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		o    Observation
		want want
	}{
		// Awake.
		{"idle: ask the pods first", obs(pods(PodsUnknown)), want{kind: Probe}},
		{"idle, nothing open: record the replicas", obs(), want{kind: Write, state: api.HibernationHibernating, replicas: 2, cause: api.CauseIdle}},
		{"idle, a session open", obs(pods(PodsBusy)), want{kind: Stay, after: window}},
		{"idle, a pod could not be asked", obs(pods(PodsFailed)), want{kind: Stay, after: retryDoubt}},
		{"active 10 minutes ago", obs(activeAt(-10 * time.Minute)), want{kind: Stay, after: 21 * time.Minute}},
		{"active within the slack", obs(activeAt(-window - 30*time.Second)), want{kind: Stay, after: 30 * time.Second}},
		{"hibernation off", obs(off), want{kind: Stay}},
		{"an HPA: said once", obs(hpa), want{kind: Stay, event: "HibernationSkipped"}},
		{"an HPA, hibernation off: nothing to say", obs(hpa, off), want{kind: Stay}},
		{"scaled to 0 by someone else", obs(replicas(0), ready(false)), want{kind: Stay}},
		{"rollout in progress", obs(func(o *Observation) { o.RollingOut = true }), want{kind: Stay, after: retryDoubt}},
		{"awake record (overridden once): hibernates, keeps the count", obs(rec(api.HibernationAwake, 0, api.CauseOthers), overrides(1), since(-2*time.Hour)),
			want{kind: Write, state: api.HibernationHibernating, replicas: 2, cause: api.CauseIdle}},
		{"scaled up by someone else a minute ago: a window from then", obs(rec(api.HibernationAwake, 0, api.CauseOthers), overrides(1)),
			want{kind: Stay, after: window}}, // slack 1m, since 1m ago
		{"unreadable record", obs(invalid), want{kind: Stay}},
		{"unmanaged", obs(rec(api.HibernationUnmanaged, 0, api.CauseOthers)), want{kind: Stay}},

		// Hibernating: the record is written, the scale may not be.
		{"hibernating: scale to 0", obs(rec(api.HibernationHibernating, 2, api.CauseIdle)), want{kind: Scale, replicas: 0, event: "Hibernated"}},
		{"hibernating, scaled: record it", obs(rec(api.HibernationHibernating, 2, api.CauseIdle), replicas(0), ready(false)),
			want{kind: Write, state: api.HibernationHibernated, replicas: 2, cause: api.CauseIdle}},
		{"hibernating, activity since: cancel", obs(rec(api.HibernationHibernating, 2, api.CauseIdle), activeAt(-time.Second)), want{kind: Write}},
		{"hibernating, replicas changed: cancel", obs(rec(api.HibernationHibernating, 2, api.CauseIdle), replicas(3)), want{kind: Write}},
		{"hibernating, an HPA appeared: cancel", obs(rec(api.HibernationHibernating, 2, api.CauseIdle), hpa), want{kind: Write}},
		{"hibernating, turned off: cancel", obs(rec(api.HibernationHibernating, 2, api.CauseIdle), off), want{kind: Write}},
		{"hibernating, the record's own write looks like a rollout: go on", obs(rec(api.HibernationHibernating, 2, api.CauseIdle), func(o *Observation) { o.RollingOut = true }),
			want{kind: Scale, replicas: 0, event: "Hibernated"}},
		{"hibernating, cancelled after an override: the count stays",
			obs(rec(api.HibernationHibernating, 2, api.CauseIdle), overrides(1), replicas(3)),
			want{kind: Write, state: api.HibernationAwake, cause: api.CauseOthers}},
		{"hibernating by an operator: activity does not cancel", obs(rec(api.HibernationHibernating, 2, api.CauseOperator), activeAt(-time.Second)),
			want{kind: Scale, replicas: 0, event: "Hibernated"}},

		// Hibernated.
		{"hibernated", obs(rec(api.HibernationHibernated, 2, api.CauseIdle), replicas(0), ready(false)), want{kind: Stay}},
		{"hibernated, scaled up by someone: once", obs(rec(api.HibernationHibernated, 2, api.CauseIdle), replicas(3)),
			want{kind: Write, state: api.HibernationAwake, cause: api.CauseOthers, event: "HibernationOverridden"}},
		{"hibernated, scaled up by someone: twice", obs(rec(api.HibernationHibernated, 2, api.CauseIdle), overrides(1), replicas(1)),
			want{kind: Write, state: api.HibernationUnmanaged, cause: api.CauseOthers, event: "HibernationDisabled"}},
		{"hibernated, an HPA appeared: restore", obs(rec(api.HibernationHibernated, 2, api.CauseIdle), replicas(0), hpa),
			want{kind: Write, state: api.HibernationWaking, replicas: 2, cause: api.CauseAutoscaler}},
		{"hibernated, turned off: restore", obs(rec(api.HibernationHibernated, 2, api.CauseIdle), replicas(0), off),
			want{kind: Write, state: api.HibernationWaking, replicas: 2, cause: api.CauseConfig}},
		{"hibernated by an operator, turned off: stays", obs(rec(api.HibernationHibernated, 2, api.CauseOperator), replicas(0), off), want{kind: Stay}},

		// Waking.
		{"waking: scale back up", obs(rec(api.HibernationWaking, 2, api.CauseRequest), replicas(0), ready(false)),
			want{kind: Scale, replicas: 2, event: "Woken"}},
		{"waking, scaled, no pod ready", obs(rec(api.HibernationWaking, 2, api.CauseRequest), ready(false)), want{kind: Stay}},
		{"waking, a pod ready: drop the record", obs(rec(api.HibernationWaking, 2, api.CauseRequest)), want{kind: Write}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, Hibernator(tt.o), tt.want)
		})
	}
}

func TestWake(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		o    Observation
		want want
	}{
		{"hibernated: record the wake", obs(rec(api.HibernationHibernated, 3, api.CauseIdle), replicas(0), ready(false)),
			want{kind: Write, state: api.HibernationWaking, replicas: 3, cause: api.CauseRequest}},
		{"hibernating, scaled: wake", obs(rec(api.HibernationHibernating, 3, api.CauseIdle), replicas(0), ready(false)),
			want{kind: Write, state: api.HibernationWaking, replicas: 3, cause: api.CauseRequest}},
		{"hibernating, not scaled yet: cancel", obs(rec(api.HibernationHibernating, 2, api.CauseIdle)), want{kind: Write}},
		{"an operator hibernating it: wait for the scale down", obs(rec(api.HibernationHibernating, 2, api.CauseOperator)), want{kind: Wait}},
		{"waking: scale up", obs(rec(api.HibernationWaking, 3, api.CauseRequest), replicas(0), ready(false)),
			want{kind: Scale, replicas: 3, event: "Woken"}},
		{"waking, scaled: wait", obs(rec(api.HibernationWaking, 3, api.CauseRequest), replicas(3), ready(false)), want{kind: Wait}},
		{"waking, ready: drop the record", obs(rec(api.HibernationWaking, 3, api.CauseRequest), replicas(3)), want{kind: Write}},
		{"hibernated, scaled up by someone: wait", obs(rec(api.HibernationHibernated, 2, api.CauseIdle), ready(false)), want{kind: Wait}},
		{"hibernated, scaled up by someone, ready", obs(rec(api.HibernationHibernated, 2, api.CauseIdle)), want{kind: Done}},
		{"awake", obs(), want{kind: Done}},
		{"awake, not ready: not ours", obs(ready(false)), want{kind: Refuse, err: ErrNotHibernated}},
		{"scaled to 0 by a person: not woken", obs(replicas(0), ready(false)), want{kind: Refuse, err: ErrNotHibernated}},
		{"unmanaged at 0: not woken", obs(rec(api.HibernationUnmanaged, 0, api.CauseOthers), replicas(0), ready(false)), want{kind: Refuse, err: ErrNotHibernated}},
		{"unreadable record", obs(invalid, replicas(0)), want{kind: Refuse, err: ErrNotHibernated}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, Wake(tt.o, api.CauseRequest, "an MCP request arrived"), tt.want)
		})
	}
}

func TestFinalize(t *testing.T) {
	t.Parallel()
	check(t, Finalize(obs(rec(api.HibernationWaking, 2, api.CauseRequest))), want{kind: Write})
	check(t, Finalize(obs(rec(api.HibernationWaking, 2, api.CauseRequest), ready(false))), want{kind: Wait})
	// Someone decided after the wake: not the waker's to undo.
	check(t, Finalize(obs(rec(api.HibernationHibernating, 2, api.CauseOperator))), want{kind: Done})
	check(t, Finalize(obs()), want{kind: Done})
}

func TestHibernate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		o    Observation
		want want
	}{
		{"awake and busy: hibernates anyway", obs(pods(PodsBusy), activeAt(0)),
			want{kind: Write, state: api.HibernationHibernating, replicas: 2, cause: api.CauseOperator}},
		{"hibernation off: hibernates anyway", obs(off), want{kind: Write, state: api.HibernationHibernating, replicas: 2, cause: api.CauseOperator}},
		{"unmanaged: the operator takes it back", obs(rec(api.HibernationUnmanaged, 0, api.CauseOthers), overrides(2)),
			want{kind: Write, state: api.HibernationHibernating, replicas: 2, cause: api.CauseOperator}},
		{"recorded: scale", obs(rec(api.HibernationHibernating, 2, api.CauseOperator)), want{kind: Scale, replicas: 0, event: "Hibernated"}},
		{"the leader's, active since: the operator's now", obs(rec(api.HibernationHibernating, 2, api.CauseIdle), activeAt(0)),
			want{kind: Write, state: api.HibernationHibernating, replicas: 2, cause: api.CauseOperator}},
		{"scaled: record it", obs(rec(api.HibernationHibernating, 2, api.CauseOperator), replicas(0), ready(false)),
			want{kind: Write, state: api.HibernationHibernated, replicas: 2, cause: api.CauseOperator}},
		{"hibernated", obs(rec(api.HibernationHibernated, 2, api.CauseOperator), replicas(0), ready(false)), want{kind: Done}},
		{"hibernated, scaled up by someone", obs(rec(api.HibernationHibernated, 2, api.CauseIdle), replicas(4)),
			want{kind: Write, state: api.HibernationHibernating, replicas: 4, cause: api.CauseOperator}},
		{"waking: back to sleep", obs(rec(api.HibernationWaking, 3, api.CauseRequest), replicas(0), ready(false)),
			want{kind: Write, state: api.HibernationHibernating, replicas: 3, cause: api.CauseOperator}},
		{"an HPA", obs(hpa), want{kind: Refuse, err: ErrRefused}},
		{"at 0 already", obs(replicas(0), ready(false)), want{kind: Refuse, err: ErrRefused}},
		{"unreadable record", obs(invalid), want{kind: Refuse, err: ErrRefused}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check(t, Hibernate(tt.o, "mcpctl hibernate by alice"), tt.want)
		})
	}
	st := Hibernate(obs(rec(api.HibernationUnmanaged, 0, api.CauseOthers), overrides(2)), "x")
	assert.Zero(t, st.Record.Overrides, "an operator's hibernation starts the override count again")
}
