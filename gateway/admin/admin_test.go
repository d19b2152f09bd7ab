package admin

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestPodStatusReasons(t *testing.T) {
	t.Parallel()
	waiting := func(reason string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: "server", RestartCount: 3, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "m"}}}
	}
	tests := []struct {
		name   string
		status corev1.PodStatus
		reason string
		ready  bool
	}{
		{"running", corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}, "", true},
		{"crashloop", corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{waiting("CrashLoopBackOff")}}, "CrashLoopBackOff", false},
		{"image pull", corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{waiting("ImagePullBackOff")}}, "ImagePullBackOff", false},
		{"sidecar config", corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{waiting("CreateContainerConfigError")}}, "CreateContainerConfigError", false},
		{"creating is not stuck", corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{waiting("ContainerCreating")}}, "", false},
		{"unschedulable", corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/3 nodes"}}}, "Unschedulable", false},
		{"oom", corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "s", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}}}}}, "OOMKilled", false},
		{"evicted", corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}, "Evicted", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", UID: "u", CreationTimestamp: metav1.NewTime(now.Add(-90 * time.Second))}, Status: tt.status}
			ps := podStatus(p, nil, now)
			assert.Equal(t, tt.reason, ps.Reason)
			assert.Equal(t, tt.ready, ps.Ready)
			assert.Equal(t, "1m30s", ps.Age)
		})
	}
}

func TestLatestEvents(t *testing.T) {
	t.Parallel()
	var evs []corev1.Event
	for i := range 7 {
		evs = append(evs, corev1.Event{Type: corev1.EventTypeWarning, Reason: "R" + string(rune('0'+i)), InvolvedObject: corev1.ObjectReference{UID: "u"},
			LastTimestamp: metav1.NewTime(now.Add(time.Duration(i) * time.Minute))})
	}
	evs = append(evs, corev1.Event{Type: corev1.EventTypeNormal, Reason: "N", InvolvedObject: corev1.ObjectReference{UID: "u"}, LastTimestamp: metav1.NewTime(now.Add(time.Hour))})
	got := latest(evs, "u")
	require.Len(t, got, maxEvents)
	assert.Equal(t, "R6", got[0].Reason, "newest first, warnings only")
}

func newAPI(t *testing.T, g auth.Authorizer, objs ...any) (*fake.Clientset, string) {
	t.Helper()
	client := fake.NewClientset()
	ctx := context.Background()
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.Deployment:
			_, err := client.AppsV1().Deployments(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
			require.NoError(t, err)
		case *corev1.Pod:
			_, err := client.CoreV1().Pods(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
			require.NoError(t, err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := &API{Client: client, Guard: &auth.Guard{Auth: g, Log: log}, Log: log, Now: func() time.Time { return now }}
	r := http.NewServeMux()
	a.Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return client, srv.URL
}

func deployment(ns, name, server string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{api.ServerLabel: server}},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{
			Annotations: map[string]string{api.PodAnnTransport: "streamable-http", api.PodAnnAllowedTools: "echo"},
		}}},
	}
}

func get(t *testing.T, method, url string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil {
		require.NoError(t, json.Unmarshal(data, out), string(data))
	}
	return resp.StatusCode
}

func TestAPI(t *testing.T) {
	t.Parallel()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "gh-1", Labels: map[string]string{api.ServerLabel: "github"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "mcp-transport"}, {Name: "server"}}},
	}
	// A rollout to caller authentication half done: the template has it,
	// one pod of two runs it.
	rolled := pod.DeepCopy()
	rolled.Name, rolled.Annotations = "gh-2", map[string]string{api.PodAnnCallerAuth: api.CallerAuthMTLS}
	gh := deployment("a", "gh", "github")
	gh.Spec.Template.Annotations[api.PodAnnCallerAuth] = api.CallerAuthMTLS
	client, url := newAPI(t, auth.None{}, gh, deployment("b", "fs", "files"),
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "plain"}}, pod, rolled)

	var list []ServerSummary
	require.Equal(t, http.StatusOK, get(t, http.MethodGet, url+"/api/v1/servers", &list))
	require.Len(t, list, 2)
	assert.Equal(t, ServerSummary{Namespace: "a", Name: "github", Deployment: "gh", Transport: "streamable-http", DesiredReplicas: 1,
		CallerAuth: "mtls", Pods: 2, CallerAuthPods: 1}, list[0])
	assert.Equal(t, ServerSummary{Namespace: "b", Name: "files", Deployment: "fs", Transport: "streamable-http", DesiredReplicas: 1,
		CallerAuth: "none"}, list[1], "injected before caller authentication")
	require.Equal(t, http.StatusOK, get(t, http.MethodGet, url+"/api/v1/namespaces/b/servers", &list))
	require.Len(t, list, 1)

	var st ServerStatus
	require.Equal(t, http.StatusOK, get(t, http.MethodGet, url+"/api/v1/namespaces/a/servers/github", &st))
	require.Len(t, st.Pods, 2)
	assert.Equal(t, "gh-1", st.Pods[0].Name)
	assert.Equal(t, "none", st.Pods[0].CallerAuth, "an old pod until it rolls")
	assert.Equal(t, "mtls", st.Pods[1].CallerAuth)
	assert.Equal(t, int32(1), st.CallerAuthPods)
	assert.Equal(t, "echo", *st.AllowedTools)

	var e map[string]string
	assert.Equal(t, http.StatusNotFound, get(t, http.MethodGet, url+"/api/v1/namespaces/a/servers/nope", &e))
	assert.Contains(t, e["error"], "no Deployment labelled")

	require.Equal(t, http.StatusAccepted, get(t, http.MethodPost, url+"/api/v1/namespaces/a/servers/github/restart", &e))
	d, err := client.AppsV1().Deployments("a").Get(context.Background(), "gh", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, now.Format(time.RFC3339), d.Spec.Template.Annotations[RestartedAtAnnotation])

	// The fake clientset answers every log request with "fake logs".
	req, _ := http.NewRequest(http.MethodGet, url+"/api/v1/namespaces/a/servers/github/logs?tailLines=5", nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "fake logs", string(body))
	assert.Equal(t, "server", resp.Header.Get("X-Container"), "the sidecar is not the default container")
	assert.Equal(t, http.StatusBadRequest, get(t, http.MethodGet, url+"/api/v1/namespaces/a/servers/github/logs?tailLines=x", nil))
	assert.Equal(t, http.StatusNotFound, get(t, http.MethodGet, url+"/api/v1/namespaces/a/servers/github/logs?pod=other", nil))
}

type denyAll struct{ auth.None }

func (denyAll) Authorize(context.Context, *auth.User, auth.Attributes) (bool, error) {
	return false, nil
}

func TestAPIForbidden(t *testing.T) {
	t.Parallel()
	client, url := newAPI(t, denyAll{}, deployment("a", "gh", "github"))
	var e map[string]string
	assert.Equal(t, http.StatusForbidden, get(t, http.MethodPost, url+"/api/v1/namespaces/a/servers/github/restart", &e))
	assert.Contains(t, e["error"], "may not update servers/restart.mcp.archestra.io github in namespace a")
	d, err := client.AppsV1().Deployments("a").Get(context.Background(), "gh", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Empty(t, d.Spec.Template.Annotations[RestartedAtAnnotation])
}
