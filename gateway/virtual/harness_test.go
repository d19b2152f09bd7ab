package virtual_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
	"github.com/archestra-ai/mcp-orchestrator/gateway/session"
	"github.com/archestra-ai/mcp-orchestrator/gateway/virtual"
)

// harness is one gateway replica in process over a fake API server:
// discovery, the proxy and the virtual servers as the binary wires them,
// members are MCP Go SDK servers on loopback (fake pods).
type harness struct {
	t      testing.TB
	ctx    context.Context
	client *fake.Clientset
	gw     *gateway.Gateway
	url    string
	reg    *prometheus.Registry
}

var seq atomic.Int64

func newHarness(t testing.TB, listTimeout time.Duration) *harness {
	t.Helper()
	return newReplica(t, fake.NewClientset(), listTimeout)
}

// newReplica is one more gateway replica over client (replicas share the
// API server and the session key, nothing else), reachable by the others
// at its own address (the Peer option).
func newReplica(t testing.TB, client *fake.Clientset, listTimeout time.Duration) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, client: client, reg: prometheus.NewRegistry()}
	codec, err := session.NewCodec([]byte(strings.Repeat("virtual-test-key/", 2)))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	h.gw, err = gateway.New(gateway.Config{Client: h.client, Codec: codec, Auth: auth.None{}, Registry: h.reg,
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Virtual: &virtual.Options{ListTimeout: listTimeout, CacheTTL: time.Minute, Version: "test", Peer: ln.Addr().String()}})
	require.NoError(t, err)
	h.gw.Start(ctx)
	require.True(t, h.gw.WaitForSync(ctx))
	srv := httptest.NewUnstartedServer(h.gw)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

// member makes backend b a ready pod of server ns/name, with its
// Deployment (labels only: what the gateway reads).
func (h *harness) member(b *mcptest.Backend, ns, name string, ann map[string]string) *corev1.Pod {
	h.t.Helper()
	pod := b.Pod(ns, name, name+"-"+b.Name, ann)
	pod.UID = types.UID("uid-" + name + "-" + string(rune('a'+seq.Add(1)%26)))
	_, err := h.client.CoreV1().Pods(ns).Create(h.ctx, pod, metav1.CreateOptions{})
	require.NoError(h.t, err)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{api.ServerLabel: name}}}
	if _, err := h.client.AppsV1().Deployments(ns).Create(h.ctx, d, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "exists") {
		require.NoError(h.t, err)
	}
	require.Eventually(h.t, func() bool { return h.gw.Registry.Lookup(ns, name, string(pod.UID)) != nil }, 5*time.Second, 5*time.Millisecond)
	return pod
}

// define creates or updates the ConfigMap cm defining virtual server name,
// and waits until the gateway has read it.
func (h *harness) define(ns, cm, name, doc string) {
	h.t.Helper()
	obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: cm, Labels: map[string]string{api.VirtualServerLabel: name}},
		Data: map[string]string{api.VirtualServerKey: doc}}
	if _, err := h.client.CoreV1().ConfigMaps(ns).Create(h.ctx, obj, metav1.CreateOptions{}); err != nil {
		_, err = h.client.CoreV1().ConfigMaps(ns).Update(h.ctx, obj, metav1.UpdateOptions{})
		require.NoError(h.t, err)
	}
	require.Eventually(h.t, func() bool {
		st, ok := h.gw.Virtual.VirtualStatus(ns, name)
		return ok && slices.Contains(st.ConfigMaps, cm)
	}, 5*time.Second, 5*time.Millisecond)
}

// connect opens an SDK client session to ns/name: the client's defaults
// (2026-07-28, falling back to initialize), or the legacy revision.
func (h *harness) connect(ns, name string, legacy bool, opts *mcp.ClientOptions) *mcp.ClientSession {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := mcp.NewClient(&mcp.Implementation{Name: "virtual-test", Version: "test"}, opts)
	var so *mcp.ClientSessionOptions
	if legacy {
		so = &mcp.ClientSessionOptions{ProtocolVersion: api.MCPVersion20251125}
	}
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.url + "/mcp/" + ns + "/" + name, MaxRetries: -1}, so)
	require.NoError(h.t, err)
	h.t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// counter is the value of one series of the harness's metrics.
func counter(t *testing.T, h *harness, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := true
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					match = false
				}
			}
			if match {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
