// Package discovery finds the pods of MCP servers with a shared informer on
// the server label and keeps, per server, the pods that can take traffic.
package discovery

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/toolfilter"
	corev1 "k8s.io/api/core/v1"
)

// Endpoint is one pod of an MCP server as the router sees it. It is
// immutable except for its in-flight counter, which is shared by every
// version of the same pod so an update does not reset the load figure.
type Endpoint struct {
	Namespace string
	Server    string
	Pod       string
	UID       string
	// URL is the pod's MCP endpoint, <scheme>://<podIP>:<port><path>:
	// https for a pod whose sidecar authenticates its caller (the gateway
	// presents its client certificate), http for one injected before.
	URL *url.URL
	// CallerAuth is the pod's api.PodAnnCallerAuth ("" for an old pod).
	CallerAuth string
	Transport  string
	// SessionMode is the stdio session mode ("" for streamable-http).
	SessionMode string
	// Ready: the pod's Ready condition is true, so it takes new sessions.
	Ready bool
	// Terminating: deletion has started; existing sessions keep working
	// while the pod drains, new ones go elsewhere.
	Terminating bool

	// Tools is the pod's allowed-tools policy; nil: every tool.
	Tools *toolfilter.Policy
	load  *load
}

// load is the live state of a pod, shared by every version of its Endpoint.
type load struct {
	inflight atomic.Int64
	// sessions placed on the pod by this replica and not deleted through
	// it: the tie-breaker when in-flight counts are equal, so sessions
	// spread evenly even when sessionless probes (server/discover)
	// interleave with initialize requests.
	sessions atomic.Int64
	// servingUntil (unix ns): the pod answered its readiness endpoint to
	// the gateway before the kubelet reported it Ready; see MarkServing.
	servingUntil atomic.Int64
}

// Key is "namespace/server".
func (e *Endpoint) Key() string { return e.Namespace + "/" + e.Server }

// Acquire counts a request against the endpoint until release is called.
func (e *Endpoint) Acquire() (release func()) {
	e.load.inflight.Add(1)
	return func() { e.load.inflight.Add(-1) }
}

// InFlight is the number of requests being proxied to the pod right now.
func (e *Endpoint) InFlight() int64 { return e.load.inflight.Load() }

// SessionStarted and SessionEnded count the sessions this replica placed
// on the pod.
func (e *Endpoint) SessionStarted() { e.load.sessions.Add(1) }

// SessionEnded: see SessionStarted.
// It never goes below zero: a session placed by another replica, or ended
// twice (a POST and a GET stream both told 404), is not ours to subtract.
func (e *Endpoint) SessionEnded() {
	for {
		n := e.load.sessions.Load()
		if n <= 0 || e.load.sessions.CompareAndSwap(n, n-1) {
			return
		}
	}
}

// Sessions is the number of sessions this replica placed on the pod.
func (e *Endpoint) Sessions() int64 { return e.load.sessions.Load() }

// takesNew reports whether the pod takes new sessions: Ready (or marked
// serving for a while) and not terminating.
func (e *Endpoint) takesNew() bool {
	if e.Terminating {
		return false
	}
	return e.Ready || time.Now().UnixNano() < e.load.servingUntil.Load()
}

// lighter reports whether e should take new work before o.
func (e *Endpoint) lighter(o *Endpoint) bool {
	if a, b := e.InFlight(), o.InFlight(); a != b {
		return a < b
	}
	return e.Sessions() < o.Sessions()
}

// FiltersTools reports whether the pod has an allow-list.
func (e *Endpoint) FiltersTools() bool { return e.Tools.Active() }

// AllowsTool reports whether a tool may be listed and called.
func (e *Endpoint) AllowsTool(name string) bool { return e.Tools.Allows(name) }

// endpointFor builds the Endpoint of a pod, or an error saying why the pod
// cannot be one (no IP yet, bad annotation).
func endpointFor(pod *corev1.Pod, l *load) (*Endpoint, error) {
	server := pod.Labels[api.ServerLabel]
	if server == "" {
		return nil, fmt.Errorf("no %s label", api.ServerLabel)
	}
	if pod.Status.PodIP == "" {
		return nil, fmt.Errorf("no pod IP yet")
	}
	// A Failed or Succeeded pod keeps its last PodIP in its status until it
	// is deleted, while the network may give that IP to another pod.
	if pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
		return nil, fmt.Errorf("pod has terminated (%s)", pod.Status.Phase)
	}
	pe, err := api.ParsePodEndpoint(pod.Annotations)
	if err != nil {
		return nil, err
	}
	e := &Endpoint{
		Namespace:   pod.Namespace,
		Server:      server,
		Pod:         pod.Name,
		UID:         string(pod.UID),
		URL:         &url.URL{Scheme: pe.Scheme(), Host: net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(pe.Port)), Path: pe.Path},
		CallerAuth:  pe.CallerAuth,
		Transport:   pe.Transport,
		SessionMode: pe.Sessions,
		Ready:       podReady(pod),
		Terminating: pod.DeletionTimestamp != nil,
		Tools:       toolfilter.New(pe.AllowedTools),
		load:        l,
	}
	return e, nil
}

func podReady(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
