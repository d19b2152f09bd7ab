package api

import (
	"fmt"
	"strconv"
	"strings"
)

// Pod-template annotations the webhook writes for the gateway. They describe
// the sidecar endpoint the gateway talks to (not the server's own port) and
// the policy both enforce.
const (
	PodAnnEndpointPort = Prefix + "endpoint-port"
	PodAnnEndpointPath = Prefix + "endpoint-path"
	PodAnnTransport    = AnnTransport
	PodAnnSessions     = AnnSessions
	PodAnnAllowedTools = AnnAllowedTools
)

// PodEndpoint is what the gateway learns about a pod from its annotations.
// EncodePodEndpoint and ParsePodEndpoint are the only writer and reader.
type PodEndpoint struct {
	Port      int
	Path      string
	Transport string
	// Sessions is the stdio session mode ("" for streamable-http): with
	// per-session, each caller has processes of its own on one pod, so the
	// gateway keeps a caller on its pod.
	Sessions string
	// AllowedTools is nil when every tool is allowed.
	AllowedTools []string
}

// EncodePodEndpoint returns the pod-template annotations for e.
func EncodePodEndpoint(e PodEndpoint) map[string]string {
	ann := map[string]string{
		PodAnnEndpointPort: strconv.Itoa(e.Port),
		PodAnnEndpointPath: e.Path,
		PodAnnTransport:    e.Transport,
	}
	if e.Sessions != "" {
		ann[PodAnnSessions] = e.Sessions
	}
	if e.AllowedTools != nil {
		ann[PodAnnAllowedTools] = strings.Join(e.AllowedTools, ",")
	}
	return ann
}

// ParsePodEndpoint reads the annotations of a pod. Missing keys take the
// sidecar's defaults, so a pod injected by an older webhook still routes; a
// malformed value is an error naming the key.
func ParsePodEndpoint(ann map[string]string) (PodEndpoint, error) {
	e := PodEndpoint{Port: SidecarPort, Path: SidecarMCPPath, Transport: ann[PodAnnTransport], Sessions: ann[PodAnnSessions]}
	if e.Transport == "" {
		e.Transport = DefaultTransport
	}
	if e.Transport == TransportStdio && e.Sessions == "" {
		e.Sessions = DefaultSessions
	}
	if v, ok := ann[PodAnnEndpointPort]; ok {
		p, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || p < 1 || p > 65535 {
			return PodEndpoint{}, fmt.Errorf("annotation %s: %q is not a port", PodAnnEndpointPort, v)
		}
		e.Port = p
	}
	if v := strings.TrimSpace(ann[PodAnnEndpointPath]); v != "" {
		if !strings.HasPrefix(v, "/") {
			return PodEndpoint{}, fmt.Errorf("annotation %s: %q is not an absolute path", PodAnnEndpointPath, v)
		}
		e.Path = v
	}
	if v, ok := ann[PodAnnAllowedTools]; ok {
		e.AllowedTools = []string{}
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				e.AllowedTools = append(e.AllowedTools, t)
			}
		}
	}
	return e, nil
}
