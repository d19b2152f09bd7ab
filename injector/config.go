package injector

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// Config is what the platform decides for every MCP server: images, default
// pull secrets, resources, scheduling and security. The webhook loads it from
// a YAML file and fills scheduling from its own Pod (see PlatformScheduling).
type Config struct {
	// BaseImage runs servers whose container has no image ("base image +
	// command" mode).
	BaseImage string `json:"baseImage"`
	// Home is the HOME of processes in the server container; an emptyDir is
	// mounted there so npx/uvx caches work under a read-only root.
	Home    string        `json:"home"`
	Sidecar SidecarConfig `json:"sidecar"`
	// ImagePullSecrets are added to every MCP pod.
	ImagePullSecrets []string `json:"imagePullSecrets,omitempty"`
	// Resources are filled into the server container per resource name the
	// user left unset.
	Resources  corev1.ResourceRequirements `json:"resources,omitempty"`
	Scheduling Scheduling                  `json:"scheduling,omitempty"`
	Security   Security                    `json:"security,omitempty"`
	// MaxSessions is the default cap on concurrent sessions per pod (0: none).
	MaxSessions int `json:"maxSessions,omitempty"`
	// CopyPullSecrets names the pull secrets of the platform namespace that
	// the webhook's controller may copy into a server's namespace when its
	// image-pull-secrets annotation names them. Empty: nothing is copied.
	CopyPullSecrets []string `json:"copyPullSecrets,omitempty"`
	// Hibernation holds the platform's hibernation settings the webhook
	// validates with (the gateway hibernates).
	Hibernation Hibernation `json:"hibernation,omitzero"`
	// CallerAuth is how injected sidecars authenticate their caller:
	// "mtls" (the default): TLS, and MCP only for the gateway's client
	// certificate, verified against the CA bundle the controller keeps in
	// the ConfigMap mcp-gateway-ca of the namespace; "none": plain HTTP
	// that anyone who reaches the pod may use (local development only).
	CallerAuth string `json:"callerAuth,omitempty"`
	// NetworkPolicy configures the NetworkPolicy the controller keeps in
	// every namespace with MCP servers (defence in depth: caller
	// authentication holds without it).
	NetworkPolicy NetworkPolicyConfig `json:"networkPolicy,omitempty"`
	// Version is the build version of the caller (the webhook, mcpctl),
	// recorded in the injection marker so an upgrade is visible. It is not
	// read from the file and not part of Hash; empty leaves it out.
	Version string `json:"-"`
}

// SidecarConfig configures the injected mcp-transport containers.
type SidecarConfig struct {
	Image           string                      `json:"image"`
	ImagePullPolicy corev1.PullPolicy           `json:"imagePullPolicy,omitempty"`
	Resources       corev1.ResourceRequirements `json:"resources,omitempty"`
	// WarmPool is the number of pre-started stdio processes per pod.
	WarmPool *int `json:"warmPool,omitempty"`
	// IdleTimeout ends stdio sessions without traffic, as a Go duration.
	IdleTimeout string `json:"idleTimeout,omitempty"`
	// MaxProcs is the sidecar's --max-procs: threads running its Go code
	// at once; 0: one per CPU. Unset: the sidecar's default, 1.
	MaxProcs *int `json:"maxProcs,omitempty"`
}

// Hibernation configures what the webhook accepts in hibernate-after.
type Hibernation struct {
	// MinWindow is the shortest hibernate-after accepted, a Go duration;
	// empty: api.MinHibernateAfter (2m). Lower it for tests only, together
	// with the gateway's --hibernate-min-window.
	MinWindow string `json:"minWindow,omitempty"`
}

// MinHibernateAfter is the effective floor of hibernate-after.
func (c Config) MinHibernateAfter() time.Duration {
	if d, err := time.ParseDuration(c.Hibernation.MinWindow); err == nil && d > 0 {
		return d
	}
	return api.MinHibernateAfter
}

// Values of Config.CallerAuth.
const (
	CallerAuthMTLS = api.CallerAuthMTLS
	CallerAuthNone = "none"
)

// NetworkPolicyConfig is the managed NetworkPolicy: it selects the MCP
// server pods of a namespace and admits to their sidecar port only the
// gateway's pods (traffic from the node, the kubelet's probes, is always
// allowed by NetworkPolicy semantics) and From.
type NetworkPolicyConfig struct {
	// Managed: nil or true keeps the policy; false is the opt-out (the
	// controller then deletes the policies it wrote).
	Managed *bool `json:"managed,omitempty"`
	// GatewayNamespace is where the gateway runs; empty: the platform
	// namespace (the webhook's own).
	GatewayNamespace string `json:"gatewayNamespace,omitempty"`
	// GatewayPodLabels select the gateway's pods; empty:
	// app.kubernetes.io/name=mcp-gateway.
	GatewayPodLabels map[string]string `json:"gatewayPodLabels,omitempty"`
	// From lists more peers allowed to the sidecar port, e.g. a monitoring
	// namespace scraping /metrics.
	From []networkingv1.NetworkPolicyPeer `json:"from,omitempty"`
}

// IsManaged reports whether the controller keeps the policy.
func (n NetworkPolicyConfig) IsManaged() bool { return n.Managed == nil || *n.Managed }

// Scheduling is inherited by servers with inherit-scheduling: true.
type Scheduling struct {
	Tolerations  []corev1.Toleration `json:"tolerations,omitempty"`
	NodeSelector map[string]string   `json:"nodeSelector,omitempty"`
}

// Security holds the defaults applied where the user set nothing.
type Security struct {
	// AutomountServiceAccountToken is the pod default; nil means false.
	AutomountServiceAccountToken *bool `json:"automountServiceAccountToken,omitempty"`
	// ReadOnlyRootFilesystem is set on the server container when true.
	ReadOnlyRootFilesystem bool `json:"readOnlyRootFilesystem,omitempty"`
}

// DefaultConfig is what an empty config file means.
func DefaultConfig() Config {
	return Config{
		BaseImage: "ghcr.io/archestra-ai/mcp-orchestrator/mcp-base:latest",
		Home:      "/home/mcp",
		Sidecar: SidecarConfig{
			Image:           "ghcr.io/archestra-ai/mcp-orchestrator/mcp-orchestrator:latest",
			ImagePullPolicy: corev1.PullIfNotPresent,
		},
		CallerAuth: CallerAuthMTLS,
	}
}

// LoadConfig reads a YAML config file over DefaultConfig. Unknown fields are
// errors so a typo in the platform config is not silently ignored.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	if path == "" {
		return cfg, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("reading config: %w", err)
	}
	cfg, err = ParseConfig(data)
	if err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig reads a config file's content over DefaultConfig and
// validates it.
func ParseConfig(data []byte) (Config, error) {
	cfg := DefaultConfig()
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return cfg, fmt.Errorf("parsing: %w", err)
	}
	if cfg.Sidecar.ImagePullPolicy == "" {
		cfg.Sidecar.ImagePullPolicy = corev1.PullIfNotPresent
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// Validate checks what the injector relies on.
func (c Config) Validate() error {
	switch {
	case c.BaseImage == "":
		return fmt.Errorf("baseImage must be set")
	case c.Sidecar.Image == "":
		return fmt.Errorf("sidecar.image must be set")
	case c.Home == "" || c.Home[0] != '/':
		return fmt.Errorf("home must be an absolute path")
	case c.MaxSessions < 0:
		return fmt.Errorf("maxSessions must not be negative")
	case c.CallerAuth != CallerAuthMTLS && c.CallerAuth != CallerAuthNone:
		return fmt.Errorf("callerAuth must be %s or %s, not %q", CallerAuthMTLS, CallerAuthNone, c.CallerAuth)
	}
	// What the sidecar gets as flags and Kubernetes as the container's
	// pull policy: a bad value would pass here and fail every MCP pod
	// (a sidecar that refuses its flags, a Deployment the API refuses).
	switch c.Sidecar.ImagePullPolicy {
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		return fmt.Errorf("sidecar.imagePullPolicy must be Always, IfNotPresent or Never, not %q", c.Sidecar.ImagePullPolicy)
	}
	if w := c.Sidecar.WarmPool; w != nil && *w < 0 {
		return fmt.Errorf("sidecar.warmPool must not be negative")
	}
	if n := c.Sidecar.MaxProcs; n != nil && *n < 0 {
		return fmt.Errorf("sidecar.maxProcs must not be negative (0: one thread per CPU)")
	}
	if v := c.Sidecar.IdleTimeout; v != "" {
		if d, err := time.ParseDuration(v); err != nil || d < 0 {
			return fmt.Errorf("sidecar.idleTimeout: %q is not a duration such as 30m (0: never)", v)
		}
	}
	if w := c.Hibernation.MinWindow; w != "" {
		if d, err := time.ParseDuration(w); err != nil || d <= 0 {
			return fmt.Errorf("hibernation.minWindow: %q is not a positive duration", w)
		}
	}
	return nil
}

// Hash identifies the effective config in the injection marker, so a changed
// config is visible on every injected Deployment.
func (c Config) Hash() string {
	data, _ := json.Marshal(c) // a Config always marshals
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:6])
}

// PlatformScheduling returns the scheduling defaults taken from the platform
// pod (the webhook's own Pod). Explicit config wins per field. Tolerations
// that Kubernetes adds to every pod by itself are left out: they carry
// tolerationSeconds and would pin those timeouts on every server.
func (c Config) PlatformScheduling(pod *corev1.Pod) Config {
	if pod == nil {
		return c
	}
	if c.Scheduling.Tolerations == nil {
		for _, t := range pod.Spec.Tolerations {
			if !isDefaultToleration(t) {
				c.Scheduling.Tolerations = append(c.Scheduling.Tolerations, t)
			}
		}
	}
	if c.Scheduling.NodeSelector == nil && len(pod.Spec.NodeSelector) > 0 {
		c.Scheduling.NodeSelector = map[string]string{}
		for k, v := range pod.Spec.NodeSelector {
			c.Scheduling.NodeSelector[k] = v
		}
	}
	return c
}

func isDefaultToleration(t corev1.Toleration) bool {
	switch t.Key {
	case corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable:
		return t.Effect == corev1.TaintEffectNoExecute && t.TolerationSeconds != nil
	}
	return false
}
