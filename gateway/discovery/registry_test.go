package discovery

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/toolfilter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

func pod(name, server, ip string, ready bool, ann map[string]string) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "ns", Name: name, UID: types.UID("uid-" + name),
			Labels: map[string]string{api.ServerLabel: server}, Annotations: ann,
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}},
		},
	}
}

func TestEndpointFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pod     *corev1.Pod
		url     string
		ready   bool
		allowed []string // nil: no allow-list
		wantErr string
	}{
		{name: "defaults", pod: pod("a", "s", "10.0.0.1", true, nil), url: "http://10.0.0.1:8080/mcp", ready: true},
		{name: "annotations", pod: pod("a", "s", "10.0.0.1", false, map[string]string{
			api.PodAnnEndpointPort: "9000", api.PodAnnEndpointPath: "/x", api.PodAnnAllowedTools: "a, b,,",
		}), url: "http://10.0.0.1:9000/x", allowed: []string{"a", "b"}},
		{name: "ipv6", pod: pod("a", "s", "fd00::1", true, nil), url: "http://[fd00::1]:8080/mcp", ready: true},
		{name: "empty allow-list hides everything", pod: pod("a", "s", "10.0.0.1", true, map[string]string{api.PodAnnAllowedTools: ""}),
			url: "http://10.0.0.1:8080/mcp", ready: true, allowed: []string{}},
		{name: "sidecar authenticates its caller: https", pod: pod("a", "s", "10.0.0.1", true, map[string]string{api.PodAnnCallerAuth: api.CallerAuthMTLS}),
			url: "https://10.0.0.1:8080/mcp", ready: true},
		{name: "caller auth this gateway does not speak", pod: pod("a", "s", "10.0.0.1", true, map[string]string{api.PodAnnCallerAuth: "spiffe"}), wantErr: "caller-auth"},
		{name: "no ip", pod: pod("a", "s", "", true, nil), wantErr: "no pod IP"},
		{name: "bad port", pod: pod("a", "s", "10.0.0.1", true, map[string]string{api.PodAnnEndpointPort: "http"}), wantErr: "not a port"},
		{name: "bad path", pod: pod("a", "s", "10.0.0.1", true, map[string]string{api.PodAnnEndpointPath: "mcp"}), wantErr: "absolute path"},
		{name: "failed pod keeps its stale IP", pod: withPhase(pod("a", "s", "10.0.0.1", false, nil), corev1.PodFailed), wantErr: "terminated"},
		{name: "succeeded pod", pod: withPhase(pod("a", "s", "10.0.0.1", false, nil), corev1.PodSucceeded), wantErr: "terminated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := endpointFor(tt.pod, &load{})
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.url, e.URL.String())
			assert.Equal(t, tt.ready, e.Ready)
			assert.Equal(t, toolfilter.New(tt.allowed), e.Tools)
			assert.Equal(t, tt.url[:5] == "https", e.CallerAuth == api.CallerAuthMTLS)
		})
	}
}

func TestRegistryFollowsPods(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset()
	r, err := NewRegistry(client, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	r.Start(ctx)
	require.True(t, r.WaitForSync(ctx))
	assert.Nil(t, r.Pick("ns", "s", nil))

	pods := client.CoreV1().Pods("ns")
	_, err = pods.Create(ctx, pod("a", "s", "10.0.0.1", true, nil), metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = pods.Create(ctx, pod("b", "s", "10.0.0.2", false, nil), metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return r.Pick("ns", "s", nil) != nil && len(r.Endpoints("ns", "s")) == 2 }, 5*time.Second, 10*time.Millisecond)
	for range 5 {
		assert.Equal(t, "a", r.Pick("ns", "s", nil).Pod, "only the ready pod takes new sessions")
	}
	assert.NotNil(t, r.Lookup("ns", "s", "uid-b"), "a not-ready pod still holds its sessions")
	assert.Nil(t, r.Lookup("ns", "other", "uid-a"), "a pod of another server is not found")

	// b becomes ready and a is busy: b wins.
	_, err = pods.UpdateStatus(ctx, pod("b", "s", "10.0.0.2", true, nil), metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return r.Lookup("ns", "s", "uid-b").Ready }, 5*time.Second, 10*time.Millisecond)
	release := r.Lookup("ns", "s", "uid-a").Acquire()
	for range 5 {
		assert.Equal(t, "b", r.Pick("ns", "s", nil).Pod, "fewest in-flight requests wins")
	}
	release()
	seen := map[string]int{}
	for range 10 {
		seen[r.Pick("ns", "s", nil).Pod]++
	}
	assert.Equal(t, map[string]int{"a": 5, "b": 5}, seen, "ties rotate")
	assert.Equal(t, "a", r.Pick("ns", "s", map[string]bool{"uid-b": true}).Pod)
	r.Lookup("ns", "s", "uid-a").SessionStarted()
	for range 3 {
		assert.Equal(t, "b", r.Pick("ns", "s", nil).Pod, "equal load: fewer sessions wins")
	}
	r.Lookup("ns", "s", "uid-a").SessionEnded()

	// Sessions: a holds two, b one that another replica placed and this
	// one saw deleted (never below zero).
	r.Lookup("ns", "s", "uid-a").SessionStarted()
	r.Lookup("ns", "s", "uid-a").SessionStarted()
	r.Lookup("ns", "s", "uid-b").SessionEnded()
	assert.Equal(t, map[string]int64{"ns/s": 2}, r.Sessions())
	assert.Zero(t, r.Lookup("ns", "s", "uid-b").Sessions(), "never below zero, so b does not look lighter than it is")

	require.NoError(t, pods.Delete(ctx, "a", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool { return r.Lookup("ns", "s", "uid-a") == nil }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, map[string]int64{"ns/s": 0}, r.Sessions(), "a pod that is gone takes its sessions with it")
	assert.Equal(t, "b", r.Pick("ns", "s", nil).Pod)
	assert.True(t, r.Known("ns", "s"))
	assert.False(t, r.Known("ns", "nope"))
}

func withPhase(p *corev1.Pod, phase corev1.PodPhase) *corev1.Pod {
	p.Status.Phase = phase
	return p
}

// A waiter takes Changed before it looks and is woken by the next change;
// a pod marked serving takes new sessions before the kubelet says Ready,
// for as long as the mark lasts or until the pod's own condition is seen.
func TestChangedAndMarkServing(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset()
	r, err := NewRegistry(client, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	r.Start(ctx)
	require.True(t, r.WaitForSync(ctx))

	changed := r.Changed("ns", "s")
	other := r.Changed("ns", "other")
	assert.Equal(t, changed, r.Changed("ns", "s"), "one channel per server until it fires")
	pods := client.CoreV1().Pods("ns")
	_, err = pods.Create(ctx, pod("a", "s", "10.0.0.1", false, nil), metav1.CreateOptions{})
	require.NoError(t, err)
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("no change seen for the new pod")
	}
	select {
	case <-other:
		t.Fatal("another server's waiters are not woken")
	default:
	}
	assert.Nil(t, r.Pick("ns", "s", nil), "not ready")

	changed = r.Changed("ns", "s")
	r.MarkServing("uid-a", time.Hour)
	<-changed
	require.NotNil(t, r.Pick("ns", "s", nil), "marked serving")
	r.MarkServing("uid-a", -time.Second)
	assert.Nil(t, r.Pick("ns", "s", nil), "the mark expired")

	r.MarkServing("uid-a", time.Hour)
	_, err = pods.UpdateStatus(ctx, pod("a", "s", "10.0.0.1", true, nil), metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return r.Lookup("ns", "s", "uid-a").Ready }, 5*time.Second, 10*time.Millisecond)
	_, err = pods.UpdateStatus(ctx, pod("a", "s", "10.0.0.1", false, nil), metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !r.Lookup("ns", "s", "uid-a").Ready }, 5*time.Second, 10*time.Millisecond)
	assert.Nil(t, r.Pick("ns", "s", nil), "once Ready was seen, the kubelet's word counts")
}
