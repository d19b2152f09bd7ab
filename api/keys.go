package api

// Prefix is the prefix of every label and annotation key of MCP Orchestrator.
const Prefix = "mcp.archestra.io/"

// ServerLabel on a Deployment makes it an MCP server; its value is the
// server's name in its namespace (a DNS-1123 label). The webhook copies it
// onto the pod template, where the gateway discovers pods by it.
const ServerLabel = Prefix + "server"

// Annotation keys users write on a Deployment (see Annotations for their
// values and defaults).
const (
	AnnTransport            = Prefix + "transport"
	AnnContainer            = Prefix + "container"
	AnnCommand              = Prefix + "command"
	AnnArgs                 = Prefix + "args"
	AnnSecretEnv            = Prefix + "secret-env"
	AnnSecretEnvFrom        = Prefix + "secret-env-from"
	AnnSecretFiles          = Prefix + "secret-files"
	AnnImagePullSecrets     = Prefix + "image-pull-secrets"
	AnnRegistryCredentials  = Prefix + "registry-credentials"
	AnnInheritScheduling    = Prefix + "inherit-scheduling"
	AnnPort                 = Prefix + "port"
	AnnPath                 = Prefix + "path"
	AnnSessions             = Prefix + "sessions"
	AnnMaxSessions          = Prefix + "max-sessions"
	AnnRequestHeadersSecret = Prefix + "request-headers-secret"
	AnnAllowedTools         = Prefix + "allowed-tools"
	AnnHibernateAfter       = Prefix + "hibernate-after"
)

// AnnInjected is written by the webhook only: a record of what it added, so
// a second pass is a no-op, removal is exact and an upgrade is detectable.
const AnnInjected = Prefix + "injected"

// AnnHibernation is written by the gateway only: the hibernation record of a
// Deployment (see Hibernation). The webhook accepts it without re-injecting.
const AnnHibernation = Prefix + "hibernation"

// Values of the transport annotation.
const (
	TransportStdio          = "stdio"
	TransportStreamableHTTP = "streamable-http"
)

// Values of the sessions annotation.
const (
	SessionsPerSession = "per-session"
	SessionsShared     = "shared"
)

// Defaults of the annotations that have a fixed one.
const (
	DefaultTransport = TransportStdio
	DefaultPort      = 8080
	DefaultPath      = "/mcp"
	DefaultSessions  = SessionsPerSession
)

// Per-caller credential Secrets (gateway --caller-credentials): the label
// names the server, the annotation the caller as the gateway authenticates it.
const (
	CredentialsForLabel     = Prefix + "credentials-for"
	CredentialsSubjectAnnot = Prefix + "subject"
)

// ManagedByLabel and ManagedByValue mark objects the product's controllers
// write (derived pull secrets); they never touch objects without them.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "mcp-orchestrator"
	// ComponentLabel tells the objects of one controller from the others'.
	ComponentLabel = "app.kubernetes.io/component"
)

// RegistrySecretName is the name of the kubernetes.io/dockerconfigjson
// Secret derived from a registry-credentials Secret: the webhook puts it in
// imagePullSecrets, the pull secret controller writes it.
func RegistrySecretName(source string) string {
	name := source + "-mcp-registry"
	if len(name) > 253 {
		name = name[:240] + "-" + shortHash(source)
	}
	return name
}
