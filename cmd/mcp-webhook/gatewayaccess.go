package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/certs"
	"github.com/archestra-ai/mcp-orchestrator/injector"
	"github.com/archestra-ai/mcp-orchestrator/internal/gatewayaccess"
	"github.com/archestra-ai/mcp-orchestrator/internal/leader"
)

// Modes of --gateway-client-ca.
const (
	clientCASelfSigned  = "self-signed"
	clientCACertManager = "cert-manager"
	clientCANone        = "none"
)

// checkGatewayFlags validates the gateway client certificate flags.
func checkGatewayFlags(o options) error {
	switch o.clientCA {
	case clientCASelfSigned:
		// As for the serving certificate; and both overlaps of a CA
		// rotation (staged, then previous) fit in the third of its life
		// that is left when it starts.
		if o.clientCertLife < 30*time.Second || o.clientCALife < 3*o.clientCertLife {
			return fmt.Errorf("--gateway-client-cert-validity=%s, --gateway-client-ca-validity=%s: want at least 30s and a CA that lives at least 3 times as long", o.clientCertLife, o.clientCALife)
		}
		if o.clientCAOverlap < 0 || 6*o.clientCAOverlap >= o.clientCALife {
			return fmt.Errorf("--gateway-client-ca-overlap=%s: want less than a sixth of --gateway-client-ca-validity", o.clientCAOverlap)
		}
	case clientCACertManager, clientCANone:
	default:
		return fmt.Errorf("--gateway-client-ca must be %s, %s or %s, not %q", clientCASelfSigned, clientCACertManager, clientCANone, o.clientCA)
	}
	return nil
}

// startGatewayAccess runs, on the replica that holds the Lease, the
// gateway's self-signed client CA (in that mode) and the controller that
// keeps the CA bundle ConfigMap and the NetworkPolicy in every namespace
// with MCP servers.
func startGatewayAccess(ctx context.Context, restCfg *rest.Config, cfg injector.Config, o options, log *slog.Logger) error {
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	mc, err := metadata.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("metadata client: %w", err)
	}
	ns, identity := platformIdentity()
	copts := gatewayaccess.Options{Client: client, Metadata: mc, PlatformNamespace: ns, Logger: log,
		NetworkPolicy: networkPolicy(cfg.NetworkPolicy, ns)}
	if cfg.CallerAuth == injector.CallerAuthMTLS && o.clientCA != clientCANone {
		copts.BundleSecret = api.GatewayCASecret
		copts.BundleKey = certs.KeyCABundle
		if o.clientCA == clientCACertManager {
			// cert-manager's CA Secret: its certificate, kept trusted
			// after a renewal until it expires.
			copts.BundleKey, copts.KeepPrevious = certs.KeyCACert, true
		}
	}
	election := leader.Election{Client: client, Namespace: ns, LeaseName: api.GatewayAccessLease, Identity: identity, Logger: log}
	go election.Run(ctx, func(ctx context.Context) {
		if o.clientCA == clientCASelfSigned {
			ca := &certs.ClientCA{Client: client, Namespace: ns, CertValidity: o.clientCertLife, CAValidity: o.clientCALife,
				CAOverlap: o.clientCAOverlap, Logger: log}
			go ca.Run(ctx)
		}
		c, err := gatewayaccess.New(copts)
		if err != nil {
			log.Error("gateway access controller", "error", err)
			return
		}
		if err := c.Run(ctx); err != nil {
			log.Error("gateway access controller stopped", "error", err)
		}
	})
	return nil
}

// networkPolicy resolves the platform config's defaults.
func networkPolicy(n injector.NetworkPolicyConfig, platformNS string) gatewayaccess.Policy {
	p := gatewayaccess.Policy{Managed: n.IsManaged(), GatewayNamespace: n.GatewayNamespace, GatewayPodLabels: n.GatewayPodLabels, From: n.From}
	if p.GatewayNamespace == "" {
		p.GatewayNamespace = platformNS
	}
	if len(p.GatewayPodLabels) == 0 {
		p.GatewayPodLabels = map[string]string{"app.kubernetes.io/name": "mcp-gateway"}
	}
	return p
}

// platformIdentity is this replica's namespace and name (a local run: the
// host name in mcp-system).
func platformIdentity() (namespace, identity string) {
	namespace, identity = os.Getenv("POD_NAMESPACE"), os.Getenv("POD_NAME")
	if namespace == "" {
		namespace = "mcp-system"
	}
	if identity == "" {
		identity, _ = os.Hostname()
	}
	return namespace, identity
}
