package api

// Annotation describes one user annotation of the contract. The injector
// holds the parser of each (a test keeps both lists equal); this table is
// what the JSON Schema for other languages is generated from.
type Annotation struct {
	Key string
	// Value is the form of the value, for people.
	Value   string
	Default string
	Effect  string
	Example string
	// Enum or Pattern, when set, constrain the value in the JSON Schema
	// (the injector's parser is stricter still, and authoritative: the
	// injector's fuzz targets check that it accepts nothing they refuse).
	Enum    []string
	Pattern string
}

const (
	patternPort     = `^[1-9][0-9]{0,4}$`
	patternInteger  = `^[1-9][0-9]{0,5}$`
	patternDNSLabel = `^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`
	patternSubdom   = `^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`
	// patternHibernateAfter is also what ParseHibernateAfter takes (with
	// a positive duration): Go durations without a sign or a bare point.
	patternHibernateAfter = `^(off|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$`
)

// Annotations is every user annotation, in documentation order.
var Annotations = []Annotation{
	{Key: AnnTransport, Value: "`stdio` or `streamable-http`", Default: DefaultTransport,
		Effect: "how the server speaks MCP", Example: TransportStreamableHTTP,
		Enum: []string{TransportStdio, TransportStreamableHTTP}},
	{Key: AnnContainer, Value: "container name", Default: "the only container, else the one named mcp-server",
		Effect: "which container is the MCP server", Example: "tools", Pattern: patternDNSLabel},
	{Key: AnnCommand, Value: "JSON array, or words with shell-style quoting (no expansion)",
		Effect:  "the server's command; with no image on that container, the platform's base image runs it",
		Example: "npx -y @modelcontextprotocol/server-everything"},
	{Key: AnnArgs, Value: "same forms as command", Effect: "the server's arguments",
		Example: `--read-only --toolsets "repos,issues"`},
	{Key: AnnSecretEnv, Value: "VAR=secret:key, comma list", Effect: "env vars with secretKeyRef",
		Example: "GITHUB_TOKEN=github:token"},
	{Key: AnnSecretEnvFrom, Value: "Secret names, comma list", Effect: "envFrom secret refs", Example: "gdrive-env,shared-env"},
	{Key: AnnSecretFiles, Value: "secret:/abs/path, comma list", Effect: "the Secret mounted read-only at the path",
		Example: "gdrive-oauth:/etc/gdrive"},
	{Key: AnnImagePullSecrets, Value: "Secret names, comma list", Default: "the platform's imagePullSecrets",
		Effect: "merged into imagePullSecrets", Example: "team-registry,vendor-registry"},
	{Key: AnnRegistryCredentials, Value: "Secret name",
		Effect:  "a Secret with server, username, password; the controller derives a dockerconfigjson pull secret from it",
		Example: "vendor-registry-login", Pattern: patternSubdom},
	{Key: AnnInheritScheduling, Value: "`true` or `false`", Default: "true",
		Effect: "fill tolerations and nodeSelector from the platform defaults", Example: "false",
		Enum: []string{"true", "false"}},
	{Key: AnnPort, Value: "1-65535", Default: "the container's only containerPort, else 8080",
		Effect: "streamable-http: the server's own port (not 8080, the sidecar's)", Example: "3001", Pattern: patternPort},
	{Key: AnnPath, Value: "absolute URL path", Default: DefaultPath, Effect: "streamable-http: the server's MCP path",
		Example: "/api/mcp", Pattern: `^/`},
	{Key: AnnSessions, Value: "`per-session` or `shared`", Default: DefaultSessions,
		Effect:  "stdio: one server process per MCP session (per caller for stateless clients), or one for all",
		Example: SessionsShared, Enum: []string{SessionsPerSession, SessionsShared}},
	{Key: AnnMaxSessions, Value: "1-100000", Default: "the platform's maxSessions",
		Effect: "stdio: cap on concurrent sessions (processes) per pod", Example: "25", Pattern: patternInteger},
	{Key: AnnRequestHeadersSecret, Value: "Secret name",
		Effect:  "streamable-http: each key/value of the Secret is sent as a header on every request to the server",
		Example: "remote-headers", Pattern: patternSubdom},
	{Key: AnnAllowedTools, Value: "tool names, comma list", Default: "all",
		Effect: "the gateway and the sidecar hide and refuse every other tool", Example: "read_file,list_directory"},
	{Key: AnnHibernateAfter, Value: "duration (at least 2m) or `off`", Default: "the gateway's --hibernate-after-default (off)",
		Effect:  "scale to zero after that long without MCP traffic or open sessions; the next request through the gateway wakes the server",
		Example: "30m", Pattern: patternHibernateAfter},
}
