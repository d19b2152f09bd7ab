package api

// Objects the webhook keeps in the platform namespace, by name; the
// manifests and the Helm chart name them too.
const (
	// WebhookTLSSecret is the webhook's serving certificate (self-signed
	// mode: with the CA that signs it; cert-manager mode: cert-manager's).
	WebhookTLSSecret = "mcp-webhook-tls"
	// GatewayCASecret holds the CA of the gateway's client certificate
	// (its private key: only the webhook, or cert-manager, reads it).
	GatewayCASecret = "mcp-gateway-client-ca"
	// GatewayClientSecret is the gateway's client certificate (tls.crt,
	// tls.key, and ca.crt, the public bundle), mounted into its pods.
	GatewayClientSecret = "mcp-gateway-client-tls"
	// PullSecretsLease and GatewayAccessLease elect the leaders of the
	// webhook's two controllers.
	PullSecretsLease   = "mcp-orchestrator-pull-secrets"
	GatewayAccessLease = "mcp-orchestrator-gateway-access"
)

// The webhook's admission endpoints, as the webhook configurations call
// them.
const (
	MutatePath   = "/mutate"
	ValidatePath = "/validate"
)
