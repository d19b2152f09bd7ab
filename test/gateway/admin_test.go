package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/admin"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
)

func createDeployment(t *testing.T, ns, server string, replicas int32) *appsv1.Deployment {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": server, api.ServerLabel: server}
	d, err := client.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: server, Labels: map[string]string{api.ServerLabel: server}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": server}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{api.PodAnnTransport: "stdio"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "server", Image: "example/mcp:1"}}},
			},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	d.Status.Replicas, d.Status.ReadyReplicas = replicas, 1
	d, err = client.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	require.NoError(t, err)
	return d
}

// createStuckPod creates a pod of ns/server whose server container waits
// with reason (no kubelet in envtest: the test sets the status).
func createStuckPod(t *testing.T, ns, server, name string, phase corev1.PodPhase, restarts int32, reason, message string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	pod, err := client.CoreV1().Pods(ns).Create(ctx, mcptest.NewBackend(t, "x").Pod(ns, server, name, nil), metav1.CreateOptions{})
	require.NoError(t, err)
	pod.Status = corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "server", RestartCount: restarts,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}},
	}}}
	pod, err = client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	require.NoError(t, err)
	return pod
}

func call(t *testing.T, method, url, token string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
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

func TestStatusAndRestart(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	ctx := context.Background()
	url, _ := startGateway(t, auth.NewKubernetes(client, nil, time.Second))
	createDeployment(t, ns, "notes", 2)
	createPod(t, mcptest.NewBackend(t, "notes-ok"), ns, "notes", "notes-ok", nil)

	// A second pod stuck in CrashLoopBackOff, with a warning event.
	stuck := createStuckPod(t, ns, "notes", "notes-stuck", corev1.PodRunning, 7, "CrashLoopBackOff", "back-off 5m0s restarting failed container")
	_, err := client.CoreV1().Events(ns).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "notes-stuck.1"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: stuck.Name, UID: stuck.UID},
		Type:           corev1.EventTypeWarning, Reason: "BackOff", Message: "Back-off restarting failed container", Count: 7,
		LastTimestamp: metav1.Now(),
	}, metav1.CreateOptions{})
	require.NoError(t, err)

	operator := serviceAccountToken(t, ns, "operator")
	viewer := serviceAccountToken(t, ns, "viewer")
	grant(t, ns, "operator",
		rbacv1.PolicyRule{APIGroups: []string{api.RBACGroup}, Resources: []string{"servers"}, Verbs: []string{"get", "list"}},
		rbacv1.PolicyRule{APIGroups: []string{api.RBACGroup}, Resources: []string{"servers/restart"}, Verbs: []string{"update"}})
	grant(t, ns, "viewer", rbacv1.PolicyRule{APIGroups: []string{api.RBACGroup}, Resources: []string{"servers"}, Verbs: []string{"get"}})
	base := url + "/api/v1/namespaces/" + ns + "/servers"

	var list []admin.ServerSummary
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, base, operator, &list))
	assert.Equal(t, []admin.ServerSummary{{Namespace: ns, Name: "notes", Deployment: "notes", Transport: "stdio", DesiredReplicas: 2, ReadyReplicas: 1,
		CallerAuth: "none", Pods: 2}}, list, "pods without the caller-auth annotation: injected before it")
	assert.Equal(t, http.StatusForbidden, call(t, http.MethodGet, base, viewer, nil), "viewer may get but not list")

	var st admin.ServerStatus
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, base+"/notes", viewer, &st))
	require.Len(t, st.Pods, 2)
	assert.Equal(t, "notes-ok", st.Pods[0].Name)
	assert.True(t, st.Pods[0].Ready)
	assert.Equal(t, "Running", st.Pods[0].Phase)
	assert.Equal(t, "notes-stuck", st.Pods[1].Name)
	assert.False(t, st.Pods[1].Ready)
	assert.Equal(t, "CrashLoopBackOff", st.Pods[1].Reason)
	assert.EqualValues(t, 7, st.Pods[1].Restarts)
	require.Len(t, st.Pods[1].WarningEvents, 1)
	assert.Equal(t, "BackOff", st.Pods[1].WarningEvents[0].Reason)

	var e map[string]string
	assert.Equal(t, http.StatusForbidden, call(t, http.MethodPost, base+"/notes/restart", viewer, &e))
	assert.Contains(t, e["error"], "may not update servers/restart.mcp.archestra.io notes")
	assert.Equal(t, http.StatusUnauthorized, call(t, http.MethodGet, base+"/notes", "", nil))
	require.Equal(t, http.StatusAccepted, call(t, http.MethodPost, base+"/notes/restart", operator, &e))
	d, err := client.AppsV1().Deployments(ns).Get(ctx, "notes", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, e["restartedAt"], d.Spec.Template.Annotations[admin.RestartedAtAnnotation])
	assert.NotEmpty(t, e["restartedAt"])
	assert.Equal(t, http.StatusNotFound, call(t, http.MethodGet, base+"/missing", operator, nil))
}

func TestHealthAndMetrics(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	url, gw := startGateway(t, auth.None{})
	routable(t, gw, createPod(t, mcptest.NewBackend(t, "m"), ns, "srv", "srv-1", nil))
	cs := connect(t, url+"/mcp/"+ns+"/srv", "", nil)
	_, err := mcptest.Call(context.Background(), cs, "echo", map[string]any{"text": "x"})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, call(t, http.MethodGet, url+"/healthz", "", nil))
	assert.Equal(t, http.StatusOK, call(t, http.MethodGet, url+"/readyz", "", nil))

	// Counted when the handler returns, which can be just after the client
	// has read the result event.
	var m string
	require.Eventually(t, func() bool {
		resp, err := http.Get(url + "/metrics")
		if err != nil {
			return false
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m = string(body)
		return strings.Contains(m, `mcp_gateway_requests_total{code="200",method="tools/call",server="`+ns+`/srv",tool="echo"} 1`)
	}, 2*time.Second, 10*time.Millisecond)
	assert.Contains(t, m, `mcp_gateway_active_sessions{server="`+ns+`/srv"} 1`)
	assert.Contains(t, m, `mcp_gateway_requests_total{code="200",method="server/discover",server="`+ns+`/srv",tool=""} 1`)
	assert.Contains(t, m, `mcp_gateway_upstream_duration_seconds_bucket`)
}
