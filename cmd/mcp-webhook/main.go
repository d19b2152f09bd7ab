// Command mcp-webhook is the admission webhook of MCP Orchestrator: it turns
// labelled, annotated Deployments into runnable MCP server Deployments
// (/mutate) and denies bad annotations (/validate).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/certs"
	"github.com/archestra-ai/mcp-orchestrator/injector"
	"github.com/archestra-ai/mcp-orchestrator/internal/admission"
	"github.com/archestra-ai/mcp-orchestrator/internal/leader"
	"github.com/archestra-ai/mcp-orchestrator/internal/pullsecrets"
	"github.com/archestra-ai/mcp-orchestrator/internal/server"
	"github.com/archestra-ai/mcp-orchestrator/internal/version"
	"github.com/archestra-ai/mcp-orchestrator/webhook"
)

type options struct {
	listen     string
	certFile   string
	keyFile    string
	configFile string
	kubeconfig string
	grace      time.Duration
	logLevel   string
	warnSecret bool
	pullCtl    bool
	certMode   string
	tlsSecret  string
	service    string
	webhookCfg string
	extraHosts string
	certLife   time.Duration
	caLife     time.Duration

	accessCtl       bool
	clientCA        string
	clientCertLife  time.Duration
	clientCALife    time.Duration
	clientCAOverlap time.Duration
	pprof           *string
}

func main() {
	var o options
	flag.StringVar(&o.listen, "listen", ":8443", "HTTPS address of /mutate, /validate, /healthz, /readyz and /metrics")
	flag.StringVar(&o.certMode, "cert-mode", "files", "files: --tls-cert-file/--tls-key-file (cert-manager or your own); self-signed: a CA and serving certificate kept in --tls-secret, caBundle written to the webhook configurations")
	flag.StringVar(&o.tlsSecret, "tls-secret", api.WebhookTLSSecret, "self-signed: Secret in POD_NAMESPACE holding the CA and serving certificate")
	flag.StringVar(&o.service, "service", "mcp-webhook", "self-signed: the webhook's Service, whose DNS names the certificate covers")
	flag.StringVar(&o.extraHosts, "tls-extra-hosts", "", "self-signed: more DNS names or IPs for the certificate, comma list (e.g. 127.0.0.1 for a local run)")
	flag.StringVar(&o.webhookCfg, "webhook-configuration", "mcp-orchestrator", "self-signed: name of the Mutating- and ValidatingWebhookConfiguration whose caBundle is kept")
	flag.DurationVar(&o.certLife, "self-signed-cert-validity", 90*24*time.Hour, "self-signed: lifetime of a serving certificate; renewed with a third left")
	flag.DurationVar(&o.caLife, "self-signed-ca-validity", 10*365*24*time.Hour, "self-signed: lifetime of the CA; renewed with a third left, trusted alongside the old one for a tenth of it (at most 10 minutes) on each side")
	flag.StringVar(&o.certFile, "tls-cert-file", "/etc/mcp-webhook/tls/tls.crt", "serving certificate (PEM); reloaded when it changes")
	flag.StringVar(&o.keyFile, "tls-key-file", "/etc/mcp-webhook/tls/tls.key", "serving key (PEM); reloaded when it changes")
	flag.StringVar(&o.configFile, "config", "", "platform config (YAML); defaults when empty")
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig for reading the platform pod; in-cluster config when empty")
	flag.DurationVar(&o.grace, "shutdown-grace", 20*time.Second, "time for in-flight reviews to finish on SIGTERM")
	flag.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	flag.BoolVar(&o.warnSecret, "warn-missing-secrets", true, "warn when a Deployment refers to a Secret that does not exist (watches Secret metadata, never data)")
	flag.BoolVar(&o.pullCtl, "pull-secrets-controller", true, "run the controller that derives pull secrets from registry-credentials and copies allowed platform pull secrets (one replica at a time, by leader election)")
	flag.BoolVar(&o.accessCtl, "gateway-access-controller", true, "run the controller that keeps, in every namespace with MCP servers, the gateway CA bundle ConfigMap and the NetworkPolicy (one replica at a time, by leader election)")
	flag.StringVar(&o.clientCA, "gateway-client-ca", clientCASelfSigned, "where the gateway's client certificate comes from: self-signed (a CA in the Secret mcp-gateway-client-ca, the certificate written to mcp-gateway-client-tls), cert-manager (its Certificates write both Secrets), or none (sidecars get no CA bundle)")
	flag.DurationVar(&o.clientCertLife, "gateway-client-cert-validity", 90*24*time.Hour, "self-signed: lifetime of the gateway's client certificate; renewed with a third left")
	flag.DurationVar(&o.clientCALife, "gateway-client-ca-validity", 10*365*24*time.Hour, "self-signed: lifetime of the gateway's client CA; renewed with a third left")
	flag.DurationVar(&o.clientCAOverlap, "gateway-client-ca-overlap", 0, "self-signed: how long a new client CA is trusted before it signs, and the old one after; longer than the kubelet takes to update mounted ConfigMaps and Secrets (0: a tenth of the CA's life, at most 10 minutes)")
	o.pprof = server.PprofFlag(flag.CommandLine)
	flag.Parse()
	server.Main("mcp-webhook", o.logLevel, func(ctx context.Context, log *slog.Logger) error { return run(ctx, o, log) })
}

func run(ctx context.Context, o options, log *slog.Logger) error {
	if err := server.Pprof(ctx, *o.pprof, log); err != nil {
		return err
	}
	cfg, err := injector.LoadConfig(o.configFile)
	if err != nil {
		return err
	}
	cfg.Version = version.Version
	if err := checkGatewayFlags(o); err != nil {
		return err
	}
	restCfg, err := server.RESTConfig(o.kubeconfig)
	if err != nil && (o.warnSecret || o.pullCtl || o.accessCtl || o.certMode == "self-signed" || os.Getenv("POD_NAME") != "") {
		return err
	}
	pod, err := platformPod(ctx, restCfg, log)
	if err != nil {
		return err
	}
	cfg = cfg.PlatformScheduling(pod)
	log.Info("starting", "version", version.Version, "config", cfg.Hash(), "baseImage", cfg.BaseImage, "sidecarImage", cfg.Sidecar.Image,
		"defaultTolerations", len(cfg.Scheduling.Tolerations), "defaultNodeSelector", cfg.Scheduling.NodeSelector)

	getCert, ready, err := servingCertificate(ctx, o, restCfg, log)
	if err != nil {
		return err
	}

	deployments := admission.Deployments{Injector: injector.New(cfg)}
	if o.warnSecret || o.pullCtl {
		mc, err := metadata.NewForConfig(restCfg)
		if err != nil {
			return fmt.Errorf("metadata client: %w", err)
		}
		secrets := admission.SecretsInformer(mc)
		go secrets.RunWithContext(ctx)
		if o.warnSecret {
			deployments.Secrets = admission.NewSecretCache(secrets)
		}
		if o.pullCtl {
			if err := startPullSecrets(ctx, restCfg, secrets, cfg, log); err != nil {
				return err
			}
		}
	}
	if o.accessCtl {
		if err := startGatewayAccess(ctx, restCfg, cfg, o, log); err != nil {
			return err
		}
	}
	if cfg.CallerAuth == injector.CallerAuthMTLS && (!o.accessCtl || o.clientCA == clientCANone) {
		log.Warn("sidecars are injected with caller authentication, but this webhook publishes no gateway CA bundle (--gateway-access-controller=false or --gateway-client-ca=none): their pods stay unready until something writes the ConfigMap " + api.GatewayCAConfigMap + " in their namespace")
	}
	srv := webhook.New(webhook.Options{
		Mutator:   deployments,
		Validator: deployments,
		Logger:    log,
		Ready:     ready,
	})
	l, err := server.Listen("admission reviews", o.listen)
	if err != nil {
		return err
	}
	log.Info("serving", "address", l.Addr().String())
	return srv.ServeTLS(ctx, l, &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: getCert}, o.grace)
}

// platformPod reads the webhook's own Pod, whose tolerations and
// nodeSelector are the default scheduling of every MCP server. Outside a
// cluster (no POD_NAME) there is none. Inside one, failing to read it is
// fatal: servers would silently be scheduled without the platform defaults.
func platformPod(ctx context.Context, restCfg *rest.Config, log *slog.Logger) (*corev1.Pod, error) {
	name, ns := os.Getenv("POD_NAME"), os.Getenv("POD_NAMESPACE")
	if name == "" || ns == "" {
		log.Warn("POD_NAME or POD_NAMESPACE not set: no scheduling defaults from the platform pod")
		return nil, nil
	}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	var pod *corev1.Pod
	// The API may be briefly unreachable when the webhook starts with the
	// control plane; retry for a while before giving up.
	deadline := time.Now().Add(30 * time.Second)
	for {
		pod, err = client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		log.Warn("reading platform pod, retrying", "namespace", ns, "name", name, "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
	if err != nil {
		return nil, fmt.Errorf("reading platform pod %s/%s: %w", ns, name, err)
	}
	return pod, nil
}

// startPullSecrets runs the pull secret controller on the replica that holds
// the Lease in the platform namespace.
func startPullSecrets(ctx context.Context, restCfg *rest.Config, secrets cache.SharedIndexInformer, cfg injector.Config, log *slog.Logger) error {
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	ns := os.Getenv("POD_NAMESPACE")
	if ns == "" {
		ns = "mcp-system"
	}
	identity := os.Getenv("POD_NAME")
	if identity == "" {
		identity, _ = os.Hostname()
	}
	election := leader.Election{Client: client, Namespace: ns, LeaseName: api.PullSecretsLease, Identity: identity, Logger: log}
	go election.Run(ctx, func(ctx context.Context) {
		c, err := pullsecrets.New(pullsecrets.Options{Client: client, Secrets: secrets, PlatformNamespace: ns,
			CopyAllowed: cfg.CopyPullSecrets, Identity: identity, Logger: log})
		if err != nil {
			log.Error("pull secret controller", "error", err)
			return
		}
		if err := c.Run(ctx); err != nil {
			log.Error("pull secret controller stopped", "error", err)
		}
	})
	return nil
}

// servingCertificate returns the TLS hook and readiness check of the chosen
// certificate source; /readyz is false until a certificate is loaded.
func servingCertificate(ctx context.Context, o options, restCfg *rest.Config, log *slog.Logger) (func(*tls.ClientHelloInfo) (*tls.Certificate, error), func() error, error) {
	switch o.certMode {
	case "files":
		// certwatcher logs through controller-runtime: into our JSON log.
		ctrllog.SetLogger(logr.FromSlogHandler(log.Handler()))
		watcher, err := certwatcher.New(o.certFile, o.keyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("loading serving certificate: %w", err)
		}
		go func() {
			if err := watcher.Start(ctx); err != nil {
				log.Error("certificate watcher stopped", "error", err)
			}
		}()
		ready := func() error {
			if _, err := watcher.GetCertificate(nil); err != nil {
				return fmt.Errorf("no serving certificate: %w", err)
			}
			return nil
		}
		return watcher.GetCertificate, ready, nil
	case "self-signed":
		// Short lifetimes are for watching a rotation (the end-to-end suite);
		// below these a renewal could not finish before the next is due.
		if o.certLife < 30*time.Second || o.caLife < 3*o.certLife {
			return nil, nil, fmt.Errorf("--self-signed-cert-validity=%s, --self-signed-ca-validity=%s: want at least 30s and a CA that lives at least 3 times as long", o.certLife, o.caLife)
		}
		ns := os.Getenv("POD_NAMESPACE")
		if ns == "" {
			return nil, nil, errors.New("--cert-mode=self-signed needs POD_NAMESPACE (the downward API)")
		}
		client, err := kubernetes.NewForConfig(restCfg)
		if err != nil {
			return nil, nil, fmt.Errorf("kubernetes client: %w", err)
		}
		hosts := api.ServiceDNSNames(o.service, ns)
		for _, h := range strings.Split(o.extraHosts, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hosts = append(hosts, h)
			}
		}
		src := &certs.SelfSigned{
			Client: client, Namespace: ns, SecretName: o.tlsSecret,
			Hosts:        hosts,
			CertValidity: o.certLife, CAValidity: o.caLife,
			MutatingWebhooks: []string{o.webhookCfg}, ValidatingWebhooks: []string{o.webhookCfg},
			Logger: log,
		}
		go func() { _ = src.Run(ctx) }()
		return src.GetCertificate, src.Ready, nil
	default:
		return nil, nil, fmt.Errorf("--cert-mode must be files or self-signed, not %q", o.certMode)
	}
}
