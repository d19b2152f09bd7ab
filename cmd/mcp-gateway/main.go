// Command mcp-gateway routes MCP clients to the pods of self-hosted MCP
// servers (found by label), with auth, sticky sessions that need no store,
// tool allow-lists, and an operators' API for status, logs and restarts.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway"
	"github.com/archestra-ai/mcp-orchestrator/gateway/proxy"
	"github.com/archestra-ai/mcp-orchestrator/gateway/session"
	"github.com/archestra-ai/mcp-orchestrator/internal/server"
)

type options struct {
	listen        string
	metricsListen string
	kubeconfig    string
	namespaces    string
	sessionKey    string
	authMode      string
	tokensFile    string
	audiences     string
	oidcConfig    string
	publicURLs    string
	scopes        string
	authCacheTTL  time.Duration
	dialTimeout   time.Duration
	headerTimeout time.Duration
	maxBody       int64
	grace         time.Duration
	callerCreds   bool
	clientCert    string
	clientKey     string
	logLevel      string
	hibernation   hibernationFlags
	virtual       virtualFlags
	service       string
	pprof         *string
}

func main() {
	var o options
	flag.StringVar(&o.listen, "listen", ":8080", "HTTP address of /mcp, /api/v1, /healthz and /readyz (and /metrics when --metrics-listen is empty)")
	flag.StringVar(&o.metricsListen, "metrics-listen", ":9090", "HTTP address of /metrics (server and tool names: keep it off the clients' network); empty: on --listen")
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig (out of cluster); in-cluster config when empty")
	flag.StringVar(&o.namespaces, "namespaces", "", "comma list of namespaces to serve; all when empty")
	flag.StringVar(&o.sessionKey, "session-key-file", "", "file with the HMAC key(s) for session ids, one per line, at least 32 bytes; the first signs, all verify. Every replica must use the same file (a Secret)")
	flag.StringVar(&o.authMode, "auth", "kubernetes", "comma list of modes a bearer token is tried against, in order: oidc (JWTs of the --oidc-config issuers), serviceaccount (the cluster's ServiceAccount tokens verified locally), kubernetes (TokenReview), tokens (--tokens-file); or none alone (local development only). Callers of the first three are authorized with SubjectAccessReview")
	flag.StringVar(&o.tokensFile, "tokens-file", "", "auth=tokens: lines of `<name> sha256:<hex> [ops:]ns/server,...`")
	flag.StringVar(&o.oidcConfig, "oidc-config", "", "auth=oidc: an AuthenticationConfiguration file (apiserver.config.k8s.io/v1, the kube-apiserver's format): jwt issuers, audiences, claim mappings, claim validation rules")
	flag.StringVar(&o.publicURLs, "public-url", "", "comma list of the gateway's canonical external URLs (scheme://host[:port]). A token for a server must carry <public-url>/mcp/<ns>/<server> in aud (RFC 8707), whose Protected Resource Metadata is served (RFC 9728); needed by auth=oidc. "+
		"Against DNS rebinding, a Host that is not an IP address, localhost, one of these or the --service names, and an Origin that is neither the request's own host nor one of these, get 403")
	flag.StringVar(&o.scopes, "required-scopes", "", "comma list of OAuth scopes every OIDC access token must have (403 insufficient_scope otherwise); also the metadata's scopes_supported")
	flag.StringVar(&o.audiences, "token-audiences", "", "comma list of gateway-wide audiences ServiceAccount tokens may carry instead of the server's URL (auth=serviceaccount, kubernetes). With neither this nor --public-url, TokenReview applies the API server's own audiences")
	flag.DurationVar(&o.authCacheTTL, "auth-cache-ttl", 10*time.Second, "how long verified tokens, token reviews and access decisions are cached (denials: half)")
	flag.DurationVar(&o.dialTimeout, "dial-timeout", 5*time.Second, "timeout for connecting to a pod")
	flag.DurationVar(&o.headerTimeout, "upstream-header-timeout", 60*time.Second, "timeout for a pod's response headers; a tool call that answers later with no progress events fails with 503 (healthy streams are never cut)")
	flag.Int64Var(&o.maxBody, "max-body-bytes", 16<<20, "limit of an MCP POST body")
	flag.BoolVar(&o.callerCreds, "caller-credentials", false, "add per-caller headers from Secrets labelled "+api.CredentialsForLabel+"=<server> and annotated "+api.CredentialsSubjectAnnot+"=<user> (needs list/watch on Secrets in the served namespaces)")
	flag.StringVar(&o.clientCert, "upstream-client-cert", "", "client certificate (PEM) presented to MCP server sidecars that authenticate their caller; reloaded when it changes (the Secret mcp-gateway-client-tls)")
	flag.StringVar(&o.clientKey, "upstream-client-key", "", "key of --upstream-client-cert (PEM)")
	flag.DurationVar(&o.grace, "shutdown-grace", 20*time.Second, "time for in-flight requests to finish on SIGTERM (streams are then cut)")
	flag.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	o.hibernation.register(flag.CommandLine)
	o.virtual.register(flag.CommandLine)
	flag.StringVar(&o.service, "service", "mcp-gateway", "the gateway's Service in POD_NAMESPACE, whose DNS names are accepted in Host")
	o.pprof = server.PprofFlag(flag.CommandLine)
	flag.Parse()
	server.Main("mcp-gateway", o.logLevel, func(ctx context.Context, log *slog.Logger) error { return run(ctx, o, log) })
}

func run(ctx context.Context, o options, log *slog.Logger) error {
	if err := server.Pprof(ctx, *o.pprof, log); err != nil {
		return err
	}
	// Informers, requests and the certificate watcher outlive SIGTERM
	// until the graceful shutdown below: cancelling them with the signal
	// would cut every tool call.
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	gw, err := newGateway(ctx, runCtx, o, log)
	if err != nil {
		return err
	}
	gw.Start(runCtx)
	// A replica that routed before it knew the pods would answer 404 to
	// valid sessions, and 404 tells MCP clients to drop them.
	if !gw.WaitForSync(ctx) {
		return fmt.Errorf("discovery did not sync before shutdown")
	}
	listeners, err := listen(runCtx, o, gw, log)
	if err != nil {
		return err
	}
	log.Info("mcp-gateway listening", "listen", o.listen, "metrics", o.metricsListen, "auth", o.authMode, "public-url", o.publicURLs, "namespaces", o.namespaces)
	return server.Serve(ctx, log, o.grace, listeners...)
}

// newGateway checks the flags and builds the gateway they describe; ctx
// bounds the start (identity provider discovery), runCtx is the gateway's
// life (the client certificate's watcher).
func newGateway(ctx, runCtx context.Context, o options, log *slog.Logger) (*gateway.Gateway, error) {
	if err := checkAuthModes(splitList(o.authMode)); err != nil {
		return nil, err
	}
	if o.sessionKey == "" {
		return nil, errors.New("--session-key-file is required (the same key on every replica)")
	}
	publicURLs, err := parsePublicURLs(o.publicURLs)
	if err != nil {
		return nil, err
	}
	codec, err := session.LoadKeyFile(o.sessionKey)
	if err != nil {
		return nil, err
	}
	hib, err := o.hibernation.options()
	if err != nil {
		return nil, err
	}
	vs, err := o.virtual.options(o.listen)
	if err != nil {
		return nil, err
	}
	cfg, err := server.RESTConfig(o.kubeconfig)
	if err != nil {
		return nil, err
	}
	// TokenReviews and SubjectAccessReviews scale with traffic (cache
	// misses); client-go's default 5 QPS would queue them.
	cfg.QPS, cfg.Burst = 100, 200
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	authn, err := buildAuth(ctx, o, cfg, client, log)
	if err != nil {
		return nil, err
	}
	clientCert, err := upstreamClientCert(runCtx, o, log)
	if err != nil {
		return nil, err
	}
	return gateway.New(gateway.Config{
		Client: client, Namespaces: splitList(o.namespaces), Codec: codec, Auth: authn.chain, Log: log,
		Resources: authn.resources, RequiredScopes: splitList(o.scopes),
		DialTimeout: o.dialTimeout, HeaderTimeout: o.headerTimeout, MaxBodyBytes: o.maxBody,
		CallerCredentials: o.callerCreds, SeparateMetrics: o.metricsListen != "",
		PublicURLs: publicURLs, AllowedHosts: serviceHosts(o.service, log), Hibernation: hib,
		ClientCertificate: clientCert, Virtual: vs,
	})
}

// listen opens the clients' port and, if separate, the metrics port.
func listen(runCtx context.Context, o options, gw *gateway.Gateway, log *slog.Logger) ([]server.Listener, error) {
	main, err := server.Listen("the gateway", o.listen)
	if err != nil {
		return nil, err
	}
	srv := server.NewHTTPServer(gw, log)
	// MCP event streams stay open as long as the session lives: no read or
	// write timeout. Requests outlive SIGTERM until the graceful shutdown.
	srv.BaseContext = func(net.Listener) context.Context { return runCtx }
	listeners := []server.Listener{{Server: srv, Listener: main}}
	if o.metricsListen != "" {
		ml, err := server.Listen("metrics", o.metricsListen)
		if err != nil {
			_ = main.Close()
			return nil, err
		}
		mux := http.NewServeMux()
		mux.Handle("GET "+api.MetricsPath, gw.MetricsHandler())
		listeners = append(listeners, server.Listener{Server: server.NewHTTPServer(mux, log), Listener: ml})
	}
	return listeners, nil
}

// upstreamClientCert loads the client certificate for the sidecars and
// keeps it current: a renewed certificate (kubelet updates the mounted
// Secret) is used by new connections at once.
func upstreamClientCert(ctx context.Context, o options, log *slog.Logger) (proxy.ClientCertificate, error) {
	if o.clientCert == "" && o.clientKey == "" {
		log.Warn("no --upstream-client-cert: MCP server pods whose sidecar authenticates its caller will refuse this gateway")
		return nil, nil
	}
	// certwatcher logs through controller-runtime: into our JSON log.
	ctrllog.SetLogger(logr.FromSlogHandler(log.Handler()))
	w, err := certwatcher.New(o.clientCert, o.clientKey)
	if err != nil {
		return nil, fmt.Errorf("loading the upstream client certificate: %w", err)
	}
	w.RegisterCallback(func(tls.Certificate) { log.Info("upstream client certificate loaded", "file", o.clientCert) })
	go func() {
		if err := w.Start(ctx); err != nil {
			log.Error("upstream client certificate watcher stopped", "error", err)
		}
	}()
	return func() (*tls.Certificate, error) { return w.GetCertificate(nil) }, nil
}

// parsePublicURLs reads --public-url: absolute http(s) URLs.
func parsePublicURLs(list string) ([]*url.URL, error) {
	var out []*url.URL
	for _, s := range splitList(list) {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--public-url %q: want an absolute http or https URL", s)
		}
		out = append(out, u)
	}
	return out, nil
}

// serviceHosts are the DNS names of the gateway's Service, whose namespace
// is the pod's (POD_NAMESPACE, from the downward API). Out of a cluster
// there are none: clients use an address or localhost.
func serviceHosts(service string, log *slog.Logger) []string {
	ns := os.Getenv("POD_NAMESPACE")
	if ns == "" || service == "" {
		log.Info("POD_NAMESPACE not set: the Service's DNS names are not accepted in Host, only addresses, localhost and --public-url")
		return nil
	}
	return api.ServiceDNSNames(service, ns)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
