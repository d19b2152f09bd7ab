package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/hibernate"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
	"github.com/archestra-ai/mcp-orchestrator/gateway/session"
)

// replica is one gateway replica with hibernation, stoppable mid-test (a
// killed pod): its informers, leader election and server all end.
type replica struct {
	url  string
	gw   *gateway.Gateway
	stop func()
}

// startReplica runs a gateway replica named id serving namespace ns, whose
// Leases live in leaseNS, with windows, intervals and leader election
// shortened to seconds. (Serving one namespace keeps parallel tests'
// hibernators out of each other's Deployments.)
func startReplica(t *testing.T, ns, leaseNS, id string, tune ...func(*hibernate.Options)) *replica {
	t.Helper()
	codec, err := session.NewCodec(sessionKey)
	require.NoError(t, err)
	opts := &hibernate.Options{Namespace: leaseNS, Identity: id, MinWindow: time.Second,
		ActivityInterval: 200 * time.Millisecond, WakeTimeout: 10 * time.Second,
		LeaseDuration: 5 * time.Second, RenewDeadline: 4 * time.Second, RetryPeriod: 500 * time.Millisecond}
	for _, f := range tune {
		f(opts)
	}
	gw, err := gateway.New(gateway.Config{Client: client, Namespaces: []string{ns}, Codec: codec, Auth: auth.None{},
		Log: testLog(id), DialTimeout: time.Second, HeaderTimeout: 10 * time.Second,
		Hibernation: opts})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	gw.Start(ctx)
	require.True(t, gw.WaitForSync(ctx))
	srv := httptest.NewServer(gw)
	var once sync.Once
	r := &replica{url: srv.URL, gw: gw, stop: func() { once.Do(func() { srv.CloseClientConnections(); srv.Close(); cancel() }) }}
	t.Cleanup(r.stop)
	return r
}

// testLog discards the replica's log unless TEST_GATEWAY_LOG is set.
func testLog(id string) *slog.Logger {
	if os.Getenv("TEST_GATEWAY_LOG") == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("replica", id)
}

// createServer creates a labelled Deployment (as the webhook stored it:
// envtest runs no webhook) with hibernate-after window (empty: none).
func createServer(t *testing.T, ns, name, window string, replicas int32, ann map[string]string) *appsv1.Deployment {
	t.Helper()
	a := map[string]string{}
	if window != "" {
		a[api.AnnHibernateAfter] = window
	}
	for k, v := range ann {
		a[k] = v
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{api.ServerLabel: name}, Annotations: a},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name, api.ServerLabel: name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "server", Image: "example/mcp:1"}}},
			},
		},
	}
	d, err := client.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{})
	require.NoError(t, err)
	return d
}

// controller plays the deployment controller and the kubelet for one
// Deployment (envtest has neither): its pods follow spec.replicas, each
// one served by backend and reported Ready after readyDelay (until then
// the backend's own readiness fails too), and its status follows.
type controller struct {
	ns, name   string
	backend    *mcptest.Backend
	readyDelay atomic.Int64
	// sidecarFirst: the backend's readiness answers at once, only the
	// kubelet's report is late (the gateway may use the pod earlier).
	sidecarFirst atomic.Bool
	seq          atomic.Int64
	mu           sync.Mutex
	replicas     []int32 // every spec.replicas seen, when it changed
}

func runController(t *testing.T, ns, name string, b *mcptest.Backend) *controller {
	t.Helper()
	c := &controller{ns: ns, name: name, backend: b}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d, err := client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	c.replicas = []int32{*d.Spec.Replicas} // as created
	w, err := client.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name, ResourceVersion: d.ResourceVersion})
	require.NoError(t, err)
	c.sync(ctx, t, d)
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			if d, ok := ev.Object.(*appsv1.Deployment); ok {
				c.sync(ctx, t, d)
			}
		}
	}()
	return c
}

// scaleUps is how many times spec.replicas went from 0 to more.
func (c *controller) scaleUps() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for i := 1; i < len(c.replicas); i++ {
		if c.replicas[i-1] == 0 && c.replicas[i] > 0 {
			n++
		}
	}
	return n
}

func (c *controller) sync(ctx context.Context, t *testing.T, d *appsv1.Deployment) {
	want := *d.Spec.Replicas
	c.mu.Lock()
	if n := len(c.replicas); n == 0 || c.replicas[n-1] != want {
		c.replicas = append(c.replicas, want)
	}
	c.mu.Unlock()
	pods, err := client.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + c.name})
	if err != nil {
		return
	}
	have := int32(len(pods.Items))
	for ; have < want; have++ {
		c.startPod(ctx, t)
	}
	for i := int32(0); i < have-want; i++ {
		_ = client.CoreV1().Pods(c.ns).Delete(ctx, pods.Items[i].Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))})
	}
	c.setStatus(ctx, want)
}

func (c *controller) startPod(ctx context.Context, t *testing.T) {
	name := fmt.Sprintf("%s-%d", c.name, c.seq.Add(1))
	want := c.backend.Pod(c.ns, c.name, name, nil)
	want.Labels["app"] = c.name
	delay := time.Duration(c.readyDelay.Load())
	if delay > 0 {
		want.Status.Conditions[0].Status = corev1.ConditionFalse
		c.backend.NotReady.Store(!c.sidecarFirst.Load())
	}
	pod, err := client.CoreV1().Pods(c.ns).Create(ctx, want, metav1.CreateOptions{})
	if err != nil {
		return
	}
	pod.Status = want.Status
	if pod, err = client.CoreV1().Pods(c.ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil || delay == 0 {
		return
	}
	// The kubelet's probe, some time later.
	time.AfterFunc(delay, func() {
		c.backend.NotReady.Store(false)
		pod.Status.Conditions[0].Status = corev1.ConditionTrue
		_, _ = client.CoreV1().Pods(c.ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	})
}

// setStatus reports every pod updated (and as ready as the count says).
func (c *controller) setStatus(ctx context.Context, replicas int32) {
	_ = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := client.AppsV1().Deployments(c.ns).Get(ctx, c.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		st := appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas, UpdatedReplicas: replicas,
			ReadyReplicas: replicas, AvailableReplicas: replicas}
		if apiequality.Semantic.DeepEqual(st, d.Status) {
			return nil
		}
		d.Status = st
		_, err = client.AppsV1().Deployments(c.ns).UpdateStatus(ctx, d, metav1.UpdateOptions{})
		return err
	})
}

// getDeployment reads ns/name and its hibernation record (nil: none).
func getDeployment(t *testing.T, ns, name string) (*appsv1.Deployment, *api.Hibernation) {
	t.Helper()
	d, err := client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	v, ok := d.Annotations[api.AnnHibernation]
	if !ok {
		return d, nil
	}
	r, err := api.ParseHibernation(v)
	require.NoError(t, err)
	return d, &r
}

// waitState waits until ns/name's record is in state ("" for none) with
// replicas at want, and returns the Deployment.
func waitState(t *testing.T, ns, name, state string, want int32, within time.Duration) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	var last string
	ok := assert.Eventually(t, func() bool {
		var r *api.Hibernation
		d, r = getDeployment(t, ns, name)
		got := ""
		if r != nil {
			got = r.State
		}
		last = fmt.Sprintf("state %q, replicas %d", got, *d.Spec.Replicas)
		return got == state && *d.Spec.Replicas == want
	}, within, 50*time.Millisecond)
	require.True(t, ok, "%s/%s: want state %q with %d replicas, last %s", ns, name, state, want, last)
	return d
}

// eventReasons returns the reasons of the events about the Deployment, in order.
func eventReasons(t *testing.T, d *appsv1.Deployment) []string {
	t.Helper()
	list, err := client.CoreV1().Events(d.Namespace).List(context.Background(), metav1.ListOptions{
		FieldSelector: "involvedObject.name=" + d.Name + ",involvedObject.kind=Deployment"})
	require.NoError(t, err)
	var out []string
	for _, e := range list.Items {
		for range max(e.Count, 1) {
			out = append(out, e.Reason)
		}
	}
	return out
}

// callTool opens a session to url, calls echo and closes it.
func callTool(ctx context.Context, url, text string) (string, error) {
	cs, err := mcptest.Connect(ctx, url, "", nil)
	if err != nil {
		return "", err
	}
	defer cs.Close()
	return mcptest.Call(ctx, cs, "echo", map[string]any{"text": text})
}
