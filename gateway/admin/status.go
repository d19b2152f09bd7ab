// Package admin serves the operators' API: server status, logs, rollout
// restart, wake and hibernate, read straight from the Kubernetes API.
package admin

import (
	"slices"
	"sort"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// ServerSummary is one entry of GET /api/v1/servers.
type ServerSummary struct {
	Namespace       string `json:"namespace"`
	Name            string `json:"name"`
	Deployment      string `json:"deployment"`
	Transport       string `json:"transport"`
	DesiredReplicas int32  `json:"desiredReplicas"`
	ReadyReplicas   int32  `json:"readyReplicas"`
	// Hibernation is set when hibernation is on for the server or it has
	// a hibernation record.
	Hibernation *HibernationStatus `json:"hibernation,omitempty"`
	// CallerAuth is what the pod template has the sidecars do: "mtls"
	// (only the gateway's client certificate gets MCP), or "none" for a
	// Deployment injected before that (or a platform without it). It is
	// what new pods get; Pods and CallerAuthPods count the server's pods
	// now and those of them that enforce it: older pods do not until they
	// roll.
	CallerAuth     string `json:"callerAuth"`
	Pods           int32  `json:"pods"`
	CallerAuthPods int32  `json:"callerAuthPods"`
}

// ServerStatus is GET /api/v1/namespaces/{ns}/servers/{name}.
type ServerStatus struct {
	ServerSummary
	AllowedTools  *string       `json:"allowedTools,omitempty"`
	RestartedAt   string        `json:"restartedAt,omitempty"`
	Pods          []PodStatus   `json:"pods"`
	WarningEvents []EventStatus `json:"warningEvents,omitempty"` // of the Deployment
}

// PodStatus is one pod of a server.
type PodStatus struct {
	Name     string `json:"name"`
	Phase    string `json:"phase"`
	Ready    bool   `json:"ready"`
	Restarts int32  `json:"restarts"`
	Age      string `json:"age"`
	// Reason is set when the pod is stuck: CrashLoopBackOff,
	// ImagePullBackOff, ErrImagePull, CreateContainerConfigError,
	// Unschedulable, OOMKilled, ...
	Reason        string        `json:"reason,omitempty"`
	Message       string        `json:"message,omitempty"`
	WarningEvents []EventStatus `json:"warningEvents,omitempty"`
	// CallerAuth: "mtls" when this pod's sidecar serves MCP only to the
	// gateway's client certificate, "none" when it does not.
	CallerAuth string `json:"callerAuth"`
}

// RestartResult answers POST .../restart.
type RestartResult struct {
	Deployment  string `json:"deployment"`
	RestartedAt string `json:"restartedAt"`
}

// EventStatus is a warning event, newest first.
type EventStatus struct {
	Reason   string `json:"reason"`
	Message  string `json:"message"`
	Count    int32  `json:"count"`
	LastSeen string `json:"lastSeen,omitempty"`
}

// maxEvents per object: the latest are what an operator needs.
const maxEvents = 5

// RestartedAtAnnotation is what `kubectl rollout restart` sets.
const RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

func (a *API) summary(d *appsv1.Deployment) ServerSummary {
	s := ServerSummary{
		Namespace:     d.Namespace,
		Name:          d.Labels[api.ServerLabel],
		Deployment:    d.Name,
		Transport:     transport(d),
		ReadyReplicas: d.Status.ReadyReplicas,
		Hibernation:   a.hibernationStatus(d),
		CallerAuth:    callerAuth(d.Spec.Template.Annotations),
	}
	s.DesiredReplicas = 1
	if d.Spec.Replicas != nil {
		s.DesiredReplicas = *d.Spec.Replicas
	}
	return s
}

func transport(d *appsv1.Deployment) string {
	if v := d.Spec.Template.Annotations[api.PodAnnTransport]; v != "" {
		return v
	}
	if v := d.Annotations[api.AnnTransport]; v != "" {
		return v
	}
	return "stdio"
}

// callerAuth is the caller authentication of a pod (template) as the
// gateway reads it from the annotations: "mtls", or "none".
func callerAuth(ann map[string]string) string {
	if pe, err := api.ParsePodEndpoint(ann); err == nil && pe.CallerAuth != "" {
		return pe.CallerAuth
	}
	return "none"
}

// countPods adds the pods of s's server among pods to s: all that have not
// ended, and those whose sidecar authenticates its caller.
func countPods(s *ServerSummary, pods []corev1.Pod) {
	for i := range pods {
		p := &pods[i]
		if p.Labels[api.ServerLabel] != s.Name || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		s.Pods++
		if callerAuth(p.Annotations) != "none" {
			s.CallerAuthPods++
		}
	}
}

func podStatus(p *corev1.Pod, events []corev1.Event, now time.Time) PodStatus {
	ps := PodStatus{Name: p.Name, Phase: string(p.Status.Phase), Age: age(p.CreationTimestamp.Time, now), CallerAuth: callerAuth(p.Annotations)}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			ps.Ready = c.Status == corev1.ConditionTrue
		}
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason != "" {
			ps.Reason, ps.Message = c.Reason, c.Message
		}
	}
	statuses := append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...)
	for _, cs := range statuses {
		ps.Restarts += cs.RestartCount
		if ps.Reason != "" {
			continue
		}
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "ContainerCreating" && cs.State.Waiting.Reason != "PodInitializing":
			ps.Reason, ps.Message = cs.State.Waiting.Reason, cs.Name+": "+cs.State.Waiting.Message
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0:
			ps.Reason, ps.Message = cs.State.Terminated.Reason, cs.Name+": "+cs.State.Terminated.Message
		}
	}
	if ps.Reason == "" && p.Status.Reason != "" { // Evicted and the like
		ps.Reason, ps.Message = p.Status.Reason, p.Status.Message
	}
	ps.WarningEvents = latest(events, string(p.UID))
	return ps
}

// latest returns the newest warning events about the object with uid.
func latest(events []corev1.Event, uid string) []EventStatus {
	var mine []corev1.Event
	for _, e := range events {
		if string(e.InvolvedObject.UID) == uid && e.Type == corev1.EventTypeWarning {
			mine = append(mine, e)
		}
	}
	sort.SliceStable(mine, func(i, j int) bool { return eventTime(mine[i]).After(eventTime(mine[j])) })
	var out []EventStatus
	for i, e := range mine {
		if i == maxEvents {
			break
		}
		es := EventStatus{Reason: e.Reason, Message: e.Message, Count: e.Count}
		if t := eventTime(e); !t.IsZero() {
			es.LastSeen = t.UTC().Format(time.RFC3339)
		}
		out = append(out, es)
	}
	return out
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

func age(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return now.Sub(t).Round(time.Second).String()
}
