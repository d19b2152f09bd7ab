package api

// Names and paths of what the injection adds to a pod: the contract between
// the injector, the mcp-transport binary and the gateway.
const (
	// SidecarName is the native sidecar that serves MCP to the gateway.
	SidecarName = "mcp-transport"
	// InstallName is the init container that copies the launcher into the
	// shared volume (stdio).
	InstallName = "mcp-transport-install"
	// SharedVolume is the emptyDir the sidecar and the server container
	// share (launcher binary and socket), mounted at SharedDir.
	SharedVolume = "mcp-transport"
	SharedDir    = "/mcp-transport"
	// LauncherPath is the launcher inside the server container.
	LauncherPath = SharedDir + "/bin/mcp-transport"
	// LauncherSocket is the unix socket the launcher listens on.
	LauncherSocket = SharedDir + "/run/launcher.sock"
	// SidecarBinary is the binary in the sidecar image.
	SidecarBinary = "/usr/local/bin/mcp-transport"
	// HeadersVolume and HeadersDir: the request-headers Secret in the sidecar.
	HeadersVolume = "mcp-request-headers"
	HeadersDir    = "/etc/mcp-transport/request-headers"
	// TmpVolume and HomeVolume are the writable emptyDirs of the server.
	TmpVolume  = "mcp-tmp"
	HomeVolume = "mcp-home"
	// GatewayCAVolume mounts the ConfigMap GatewayCAConfigMap into the
	// sidecar at GatewayCADir: the CA bundle it verifies the gateway's
	// client certificate with.
	GatewayCAVolume = "mcp-gateway-ca"
	GatewayCADir    = "/etc/mcp-transport/gateway-ca"
)

// Objects the product's controller keeps in every namespace that has MCP
// servers (labelled ManagedByLabel=ManagedByValue; objects of the same name
// without that label are never touched).
const (
	// GatewayCAConfigMap holds, under GatewayCAKey, the public CA
	// certificate(s) of the gateway's client certificate: the current CA,
	// and during a rotation the next or the previous one as well.
	GatewayCAConfigMap = "mcp-gateway-ca"
	GatewayCAKey       = "ca.crt"
	// GatewayOnlyPolicy is the NetworkPolicy admitting only the gateway's
	// pods to the sidecar port of the namespace's MCP server pods.
	GatewayOnlyPolicy = "mcp-gateway-only"
)

// The sidecar's port and HTTP paths.
const (
	SidecarPort     = 8080
	SidecarPortName = "mcp"
	// SidecarMCPPath is where the sidecar serves MCP.
	SidecarMCPPath = "/mcp"
	// DrainPath is the preStop hook: readiness off, wait for in-flight
	// requests. Only callers from the pod itself may use it.
	DrainPath   = "/drain"
	ReadyPath   = "/readyz"
	HealthPath  = "/healthz"
	MetricsPath = "/metrics"
)

// Gauges of the sidecar's /metrics that the gateway reads before it
// hibernates a server: any open session or request in flight keeps it up.
const (
	// MetricSessions is the number of open MCP sessions (stdio).
	MetricSessions = "mcp_transport_sessions"
	// MetricInFlight is the number of MCP requests being answered, open
	// SSE streams (GET and POST) included.
	MetricInFlight = "mcp_transport_requests_in_flight"
)
