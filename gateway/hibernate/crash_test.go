package hibernate

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// world is one Deployment as the API server holds it, with a
// resourceVersion for compare-and-swap, and a kubelet that makes a pod
// ready whenever replicas > 0 and the test lets it.
type world struct {
	rv         int
	record     *api.Hibernation
	replicas   int32
	podsUp     bool // the kubelet keeps up: a pod is ready whenever replicas > 0
	active     time.Time
	hpa        string
	window     time.Duration
	now        time.Time
	scales     []int32 // every successful scale call
	events     []string
	apiCalls   int
	rollingOut bool
}

func newWorld() *world {
	return &world{rv: 1, replicas: 2, podsUp: true, window: window, now: t0, active: t0.Add(-time.Hour)}
}

// snapshot is what a replica read: the world at one resourceVersion.
type snapshot struct {
	rv       int
	record   *api.Hibernation
	replicas int32
}

func (w *world) read() snapshot {
	var r *api.Hibernation
	if w.record != nil {
		c := *w.record
		r = &c
	}
	return snapshot{rv: w.rv, record: r, replicas: w.replicas}
}

// observe builds the observation a replica makes from its snapshot.
func (w *world) observe(s snapshot, by string, p Pods) Observation {
	return Observation{Now: w.now, Record: s.record, Replicas: s.replicas, Ready: w.podsUp && w.replicas > 0,
		Window: w.window, HPA: w.hpa, LastActive: w.active, Slack: time.Minute, Pods: p, By: by, RollingOut: w.rollingOut}
}

// apply runs a Write or Scale with the snapshot's resourceVersion; a
// stale one is a conflict, as on the API server.
func (w *world) apply(s snapshot, st Step) (snapshot, bool) {
	if s.rv != w.rv {
		return snapshot{}, false
	}
	w.apiCalls++
	switch st.Kind {
	case Write:
		w.record = st.Record
	case Scale:
		w.replicas = st.Replicas
		w.scales = append(w.scales, st.Replicas)
	default:
		panic("not an API call: " + st.Kind.String())
	}
	if st.Event != nil {
		w.events = append(w.events, st.Event.Reason)
	}
	w.rv++
	w.now = w.now.Add(time.Millisecond)
	return w.read(), true
}

// run drives decide for one replica as drive does, crashing before API
// call number crashAt (-1: never). It returns the last step.
func (w *world) run(by string, decide func(Observation) Step, crashAt int) (Step, bool) {
	s := w.read()
	calls, pods := 0, PodsUnknown
	for range 20 {
		st := decide(w.observe(s, by, pods))
		switch st.Kind {
		case Probe:
			pods = PodsIdle
			continue
		case Write, Scale:
		default:
			return st, false
		}
		if calls == crashAt {
			return st, true
		}
		calls++
		next, ok := w.apply(s, st)
		if !ok {
			s = w.read() // conflict: read again
			continue
		}
		s = next
	}
	panic("no end after 20 steps")
}

// settle runs the leader until it has nothing to do.
func (w *world) settle(t *testing.T) {
	t.Helper()
	st, _ := w.run("leader", Hibernator, -1)
	require.Equal(t, Stay, st.Kind, "the leader ends in Stay: %s", st.Why)
}

func requestWake(o Observation) Step { return Wake(o, api.CauseRequest, "an MCP request arrived") }

// completeWake is what one replica does for a request: wake, wait for a
// ready pod (the kubelet), finish.
func (w *world) completeWake(t *testing.T, by string, crashAt int) (crashed bool) {
	t.Helper()
	w.active = w.now // a request is activity
	st, crashed := w.run(by, requestWake, crashAt)
	if crashed {
		return true
	}
	require.Contains(t, []Kind{Wait, Done}, st.Kind, st.Why)
	_, crashed = w.run(by, Finalize, crashAt-w.apiCalls)
	return crashed
}

// Every failure between two API calls of an idle hibernation leaves a state
// the next leader finishes: hibernated, scaled to 0 exactly once, with the
// replica count to restore.
func TestCrashDuringHibernation(t *testing.T) {
	t.Parallel()
	for crashAt := 0; crashAt <= 3; crashAt++ {
		t.Run(fmt.Sprintf("crash before call %d", crashAt), func(t *testing.T) {
			t.Parallel()
			w := newWorld()
			_, crashed := w.run("leader-1", Hibernator, crashAt)
			assert.Equal(t, crashAt < 3, crashed)
			w.settle(t) // the next leader
			require.NotNil(t, w.record)
			assert.Equal(t, api.HibernationHibernated, w.record.State)
			assert.Equal(t, int32(2), w.record.Replicas)
			assert.Equal(t, int32(0), w.replicas)
			assert.Equal(t, []int32{0}, w.scales, "scaled to 0 exactly once")
			assert.Equal(t, []string{"Hibernated"}, w.events)
		})
	}
}

// A leader that crashed after recording, with a request coming before the
// next leader: the hibernation is cancelled, nothing was scaled.
func TestCrashDuringHibernationThenActivity(t *testing.T) {
	t.Parallel()
	w := newWorld()
	_, crashed := w.run("leader-1", Hibernator, 1)
	require.True(t, crashed)
	require.Equal(t, api.HibernationHibernating, w.record.State)
	w.active = w.now.Add(time.Second)
	w.now = w.now.Add(2 * time.Second)
	w.settle(t)
	assert.Nil(t, w.record)
	assert.Equal(t, int32(2), w.replicas)
	assert.Empty(t, w.scales)
}

// Every failure between two API calls of a wake: the client's next request
// (on another replica) or the leader finishes it, and the Deployment is
// scaled up exactly once.
func TestCrashDuringWake(t *testing.T) {
	t.Parallel()
	for crashAt := 0; crashAt <= 3; crashAt++ {
		for _, next := range []string{"request", "leader"} {
			t.Run(fmt.Sprintf("crash before call %d, then the %s", crashAt, next), func(t *testing.T) {
				t.Parallel()
				w := hibernatedWorld(t)
				crashed := w.completeWake(t, "gw-a", crashAt)
				assert.Equal(t, crashAt < 3, crashed)
				if next == "request" {
					w.completeWake(t, "gw-b", -1)
				}
				w.settle(t)
				if next == "leader" && crashAt == 0 {
					// Nothing was written: nobody asked the leader to wake it.
					assert.Equal(t, api.HibernationHibernated, w.record.State)
					return
				}
				assert.Nil(t, w.record, "awake, record dropped")
				assert.Equal(t, int32(2), w.replicas)
				assert.Equal(t, []int32{0, 2}, w.scales, "scaled up exactly once")
				assert.Equal(t, []string{"Hibernated", "Woken"}, w.events)
			})
		}
	}
}

func hibernatedWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld()
	w.settle(t)
	require.Equal(t, api.HibernationHibernated, w.record.State)
	return w
}

// An operator's hibernation interrupted between calls is finished by the
// leader even though the server is active: it was an operator's decision.
func TestCrashDuringOperatorHibernation(t *testing.T) {
	t.Parallel()
	for crashAt := 0; crashAt <= 2; crashAt++ {
		t.Run(fmt.Sprintf("crash before call %d", crashAt), func(t *testing.T) {
			t.Parallel()
			w := newWorld()
			w.active = w.now // busy
			st, crashed := w.run("gw-a", func(o Observation) Step { return Hibernate(o, "by alice") }, crashAt)
			if !crashed {
				require.Equal(t, Done, st.Kind)
			}
			w.settle(t)
			if crashAt == 0 {
				assert.Nil(t, w.record, "nothing was written")
				return
			}
			assert.Equal(t, api.HibernationHibernated, w.record.State)
			assert.Equal(t, api.CauseOperator, w.record.Cause)
			assert.Equal(t, []int32{0}, w.scales)
		})
	}
}

// Twenty replicas and requests wake one server at once, interleaved at
// random, each retrying after a conflict: exactly one scale-up.
func TestConcurrentWakesScaleUpOnce(t *testing.T) {
	t.Parallel()
	for seed := range uint64(50) {
		w := hibernatedWorld(t)
		w.podsUp = false
		w.active = w.now
		rng := rand.New(rand.NewPCG(seed, seed))
		type actor struct {
			s    snapshot
			done bool
		}
		actors := make([]*actor, 20)
		for i := range actors {
			actors[i] = &actor{s: w.read()}
		}
		for left := len(actors); left > 0; {
			a := actors[rng.IntN(len(actors))]
			if a.done {
				continue
			}
			st := requestWake(w.observe(a.s, "gw", PodsUnknown))
			if st.Kind != Write && st.Kind != Scale {
				require.Equal(t, Wait, st.Kind, st.Why)
				a.done, left = true, left-1
				continue
			}
			if next, ok := w.apply(a.s, st); ok {
				a.s = next
			} else {
				a.s = w.read()
			}
		}
		require.Equal(t, []int32{0, 2}, w.scales, "seed %d: one scale-up", seed)
		w.podsUp = true
		w.settle(t)
		assert.Nil(t, w.record)
	}
}

// Someone else scales a hibernated Deployment up after each of two
// hibernations in a row: it is left alone from then on, said once. A wake
// of ours in between starts the count again.
func TestOthersOwnTheReplicas(t *testing.T) {
	t.Parallel()
	w := hibernatedWorld(t)
	scaleByHand := func(n int32) { w.replicas, w.rv = n, w.rv+1 }

	scaleByHand(3)
	w.settle(t)
	assert.Equal(t, api.HibernationAwake, w.record.State)
	assert.Equal(t, 1, w.record.Overrides)

	w.now = w.now.Add(2 * window)
	w.settle(t) // idle again: hibernated, the count kept
	assert.Equal(t, api.HibernationHibernated, w.record.State)
	assert.Equal(t, int32(3), w.record.Replicas, "restores what the other owner set")
	assert.Equal(t, 1, w.record.Overrides)

	scaleByHand(1)
	w.settle(t)
	assert.Equal(t, api.HibernationUnmanaged, w.record.State)
	w.now = w.now.Add(10 * window)
	w.settle(t)
	assert.Equal(t, api.HibernationUnmanaged, w.record.State, "left alone")
	assert.Equal(t, int32(1), w.replicas)
	assert.Equal(t, []string{"Hibernated", "HibernationOverridden", "Hibernated", "HibernationDisabled"}, w.events)

	// Our own wake resets the count.
	w2 := hibernatedWorld(t)
	scaleByHand2 := func(n int32) { w2.replicas, w2.rv = n, w2.rv+1 }
	scaleByHand2(2)
	w2.settle(t)
	w2.now = w2.now.Add(2 * window)
	w2.settle(t)
	w2.completeWake(t, "gw", -1)
	assert.Nil(t, w2.record, "a wake of ours: the count starts again")
}

// An autoscaler appearing on a hibernated Deployment gets its replicas
// back; a Deployment scaled to 0 by hand is never woken.
func TestAutoscalerAndHandScaledToZero(t *testing.T) {
	t.Parallel()
	w := hibernatedWorld(t)
	w.hpa = "web"
	w.settle(t)
	assert.Nil(t, w.record)
	assert.Equal(t, int32(2), w.replicas)
	w.now = w.now.Add(10 * window)
	w.settle(t)
	assert.Equal(t, int32(2), w.replicas, "never hibernated while an HPA targets it")

	byHand := newWorld()
	byHand.replicas = 0
	byHand.settle(t)
	st, _ := byHand.run("gw", requestWake, -1)
	assert.Equal(t, Refuse, st.Kind)
	assert.ErrorIs(t, st.Err, ErrNotHibernated)
	assert.Equal(t, int32(0), byHand.replicas)
	assert.Zero(t, byHand.apiCalls)
}
