package discovery

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// perCallerPods returns n ready per-session stdio endpoints of ns/s.
func perCallerPods(n int) []*Endpoint {
	eps := make([]*Endpoint, n)
	for i := range eps {
		eps[i] = &Endpoint{
			Namespace: "ns", Server: "s", Pod: fmt.Sprintf("s-%d", i), UID: fmt.Sprintf("uid-%08x", i*7919),
			Transport: api.TransportStdio, SessionMode: api.SessionsPerSession, Ready: true, load: &load{},
		}
	}
	return eps
}

func callers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("system:serviceaccount:team-%d:agent", i)
	}
	return out
}

// assign maps every caller to the UID of its pod.
func assign(cs []string, eps []*Endpoint, exclude map[string]bool) map[string]string {
	out := make(map[string]string, len(cs))
	for _, c := range cs {
		out[c] = rendezvous(c, eps, exclude).UID
	}
	return out
}

func TestRendezvousStable(t *testing.T) {
	t.Parallel()
	eps := perCallerPods(5)
	cs := callers(2000)
	first := assign(cs, eps, nil)
	// Another replica lists the pods in another order: same answer.
	shuffled := append([]*Endpoint(nil), eps...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	assert.Equal(t, first, assign(cs, shuffled, nil))
	// A copy of the endpoints (a pod's status update) changes nothing.
	copied := make([]*Endpoint, len(eps))
	for i, e := range eps {
		c := *e
		copied[i] = &c
	}
	assert.Equal(t, first, assign(cs, copied, nil))
	// Load is not a factor: a busy pod keeps its callers.
	release := eps[0].Acquire()
	defer release()
	assert.Equal(t, first, assign(cs, eps, nil))
	// Pinned values: the hash is part of the contract between replicas of
	// different versions, so a change must be deliberate (value checked
	// with an independent implementation of FNV-1a and fmix64).
	assert.Equal(t, uint64(0x3eed8aeeb06a53c8), weight(hashString(fnvOffset, "alice"), eps[0]))
}

func TestRendezvousSpread(t *testing.T) {
	t.Parallel()
	for _, n := range []int{2, 3, 4, 8} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			const total = 8000
			count := map[string]int{}
			for _, uid := range assign(callers(total), perCallerPods(n), nil) {
				count[uid]++
			}
			require.Len(t, count, n, "every pod gets callers")
			want := total / n
			for uid, c := range count {
				assert.InDelta(t, want, c, float64(want)*0.1, "pod %s: %d callers, want about %d", uid, c, want)
			}
		})
	}
}

func TestRendezvousMinimalMovement(t *testing.T) {
	t.Parallel()
	cs := callers(4000)
	four := perCallerPods(5)[:4]
	five := perCallerPods(5)
	before := assign(cs, four, nil)
	after := assign(cs, five, nil)

	moved := 0
	for c, uid := range after {
		if uid != before[c] {
			moved++
			assert.Equal(t, five[4].UID, uid, "a caller that moves goes to the new pod, never between old ones")
		}
	}
	assert.InDelta(t, len(cs)/5, moved, float64(len(cs))*0.03, "about 1/5 of the callers move to the fifth pod")

	// The new pod goes away again: exactly its callers move back, each to
	// the pod it had; excluding it (it refused the connection) is the same.
	assert.Equal(t, before, assign(cs, four, nil))
	assert.Equal(t, before, assign(cs, five, map[string]bool{five[4].UID: true}))

	// An old pod goes away: only its callers move.
	gone := five[1].UID
	rest := []*Endpoint{five[0], five[2], five[3], five[4]}
	for c, uid := range assign(cs, rest, nil) {
		if after[c] != gone {
			assert.Equal(t, after[c], uid, "a caller of a pod that stays keeps it")
		}
	}
}

func TestRendezvousSkipsUnroutable(t *testing.T) {
	t.Parallel()
	eps := perCallerPods(3)
	c := "alice"
	own := rendezvous(c, eps, nil)
	for _, mutate := range []func(*Endpoint){
		func(e *Endpoint) { e.Ready = false },
		func(e *Endpoint) { e.Terminating = true },
		func(e *Endpoint) { e.SessionMode = api.SessionsShared },
	} {
		var list []*Endpoint
		for _, e := range eps {
			cp := *e
			if e == own {
				mutate(&cp)
			}
			list = append(list, &cp)
		}
		got := rendezvous(c, list, nil)
		require.NotNil(t, got)
		assert.NotEqual(t, own.UID, got.UID)
		assert.Equal(t, rendezvous(c, eps, map[string]bool{own.UID: true}).UID, got.UID, "the next-heaviest pod")
	}
	assert.Nil(t, rendezvous(c, eps[:0], nil))
	shared := perCallerPods(2)
	for _, e := range shared {
		e.Transport = api.TransportStreamableHTTP
	}
	assert.Nil(t, rendezvous(c, shared, nil), "no per-caller pod: no affinity")
}

func TestPickForCaller(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset()
	r, err := NewRegistry(client, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	r.Start(ctx)
	require.True(t, r.WaitForSync(ctx))
	assert.Nil(t, r.PickForCaller("ns", "s", "alice", nil))

	pods := client.CoreV1().Pods("ns")
	stdio := map[string]string{api.PodAnnTransport: api.TransportStdio}
	http := map[string]string{api.PodAnnTransport: api.TransportStreamableHTTP}
	for _, p := range []struct{ name, server string }{{"a", "s"}, {"b", "s"}, {"c", "h"}, {"d", "h"}} {
		ann := stdio
		if p.server == "h" {
			ann = http
		}
		_, err = pods.Create(ctx, pod(p.name, p.server, "10.0.0.1", true, ann), metav1.CreateOptions{})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return len(r.Endpoints("ns", "s")) == 2 && len(r.Endpoints("ns", "h")) == 2 }, 5*time.Second, 10*time.Millisecond)

	// stdio in the default (per-session) mode: each caller keeps its pod,
	// however busy it is.
	own := map[string]string{}
	for _, c := range callers(50) {
		own[c] = r.PickForCaller("ns", "s", c, nil).Pod
	}
	assert.Len(t, valuesOf(own), 2, "callers spread over both pods")
	release := r.Lookup("ns", "s", "uid-a").Acquire()
	for c, p := range own {
		assert.Equal(t, p, r.PickForCaller("ns", "s", c, nil).Pod)
	}
	release()

	// streamable-http: least loaded, whoever asks.
	release = r.Lookup("ns", "h", "uid-c").Acquire()
	for _, c := range callers(10) {
		assert.Equal(t, "d", r.PickForCaller("ns", "h", c, nil).Pod)
	}
	release()
}

func valuesOf(m map[string]string) map[string]bool {
	out := map[string]bool{}
	for _, v := range m {
		out[v] = true
	}
	return out
}
