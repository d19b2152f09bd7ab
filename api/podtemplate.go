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
	// PodAnnCallerAuth says how the sidecar authenticates its caller; absent
	// on pods injected before the sidecar did (plain HTTP, no check).
	PodAnnCallerAuth = Prefix + "caller-auth"
)

// CallerAuthMTLS is the value of PodAnnCallerAuth for a sidecar that serves
// TLS and answers MCP only to a client certificate of the gateway's CA.
const CallerAuthMTLS = "mtls"

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
	// CallerAuth is CallerAuthMTLS when the pod's sidecar enforces caller
	// authentication (the gateway then speaks HTTPS with its client
	// certificate), "" for a pod injected before it did.
	CallerAuth string
}

// Scheme is the URL scheme the gateway reaches the sidecar with.
func (e PodEndpoint) Scheme() string {
	if e.CallerAuth == CallerAuthMTLS {
		return "https"
	}
	return "http"
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
	if e.CallerAuth != "" {
		ann[PodAnnCallerAuth] = e.CallerAuth
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
	switch v := ann[PodAnnCallerAuth]; v {
	case "", CallerAuthMTLS:
		e.CallerAuth = v
	default:
		// A mechanism this gateway does not speak: routing to the pod
		// could only fail, and silently falling back to plain HTTP would
		// be a downgrade.
		return PodEndpoint{}, fmt.Errorf("annotation %s: %q is not a caller authentication this gateway speaks (%s)", PodAnnCallerAuth, v, CallerAuthMTLS)
	}
	return e, nil
}
