// Command mcp-gateway routes MCP clients to the pods of self-hosted MCP
// servers (found by label), with auth, sticky sessions that need no store,
// tool allow-lists, and an operators' API for status, logs and restarts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/archestra-ai/mcp-orchestrator/gateway"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/session"
	"github.com/archestra-ai/mcp-orchestrator/internal/logging"
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
	authCacheTTL  time.Duration
	dialTimeout   time.Duration
	headerTimeout time.Duration
	maxBody       int64
	grace         time.Duration
	callerCreds   bool
	logLevel      string
}

func main() {
	var o options
	flag.StringVar(&o.listen, "listen", ":8080", "HTTP address of /mcp, /api/v1, /healthz and /readyz (and /metrics when --metrics-listen is empty)")
	flag.StringVar(&o.metricsListen, "metrics-listen", ":9090", "HTTP address of /metrics (server and tool names: keep it off the clients' network); empty: on --listen")
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig (out of cluster); in-cluster config when empty")
	flag.StringVar(&o.namespaces, "namespaces", "", "comma list of namespaces to serve; all when empty")
	flag.StringVar(&o.sessionKey, "session-key-file", "", "file with the HMAC key(s) for session ids, one per line, at least 32 bytes; the first signs, all verify. Every replica must use the same file (a Secret)")
	flag.StringVar(&o.authMode, "auth", "kubernetes", "kubernetes (TokenReview + SubjectAccessReview), tokens (--tokens-file), or none (local development only)")
	flag.StringVar(&o.tokensFile, "tokens-file", "", "auth=tokens: lines of `<name> sha256:<hex> [ops:]ns/server,...`")
	flag.StringVar(&o.audiences, "token-audiences", "", "auth=kubernetes: comma list of audiences tokens must carry; the API server's default when empty")
	flag.DurationVar(&o.authCacheTTL, "auth-cache-ttl", 10*time.Second, "auth=kubernetes: how long token reviews and access decisions are cached (denials: half)")
	flag.DurationVar(&o.dialTimeout, "dial-timeout", 5*time.Second, "timeout for connecting to a pod")
	flag.DurationVar(&o.headerTimeout, "upstream-header-timeout", 60*time.Second, "timeout for a pod's response headers; a tool call that answers later with no progress events fails with 503 (healthy streams are never cut)")
	flag.Int64Var(&o.maxBody, "max-body-bytes", 16<<20, "limit of an MCP POST body")
	flag.BoolVar(&o.callerCreds, "caller-credentials", false, "add per-caller headers from Secrets labelled mcp.archestra.io/credentials-for=<server> and annotated mcp.archestra.io/subject=<user> (needs list/watch on Secrets in the served namespaces)")
	flag.DurationVar(&o.grace, "shutdown-grace", 20*time.Second, "time for in-flight requests to finish on SIGTERM (streams are then cut)")
	flag.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	flag.Parse()

	log, err := logging.New(os.Stderr, o.logLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mcp-gateway: bad -log-level: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, o, log); err != nil {
		log.Error("mcp-gateway failed", "error", err.Error())
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, log *slog.Logger) error {
	switch o.authMode {
	case "kubernetes", "tokens", "none":
	default:
		return fmt.Errorf("--auth=%q: want kubernetes, tokens or none", o.authMode)
	}
	if o.sessionKey == "" {
		return errors.New("--session-key-file is required (the same key on every replica)")
	}
	codec, err := session.LoadKeyFile(o.sessionKey)
	if err != nil {
		return err
	}
	cfg, err := restConfig(o.kubeconfig)
	if err != nil {
		return err
	}
	// TokenReviews and SubjectAccessReviews scale with traffic (cache
	// misses); client-go's default 5 QPS would queue them.
	cfg.QPS, cfg.Burst = 100, 200
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	authz, err := authorizer(o, client, log)
	if err != nil {
		return err
	}
	gw, err := gateway.New(gateway.Config{
		Client: client, Namespaces: splitList(o.namespaces), Codec: codec, Auth: authz, Log: log,
		DialTimeout: o.dialTimeout, HeaderTimeout: o.headerTimeout, MaxBodyBytes: o.maxBody,
		CallerCredentials: o.callerCreds, SeparateMetrics: o.metricsListen != "",
	})
	if err != nil {
		return err
	}
	// Informers and requests outlive SIGTERM until the graceful shutdown
	// below: cancelling them with the signal would cut every tool call.
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	gw.Start(runCtx)
	// A replica that routed before it knew the pods would answer 404 to
	// valid sessions, and 404 tells MCP clients to drop them.
	if !gw.WaitForSync(ctx) {
		return fmt.Errorf("discovery did not sync before shutdown")
	}

	errorLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	servers := []*http.Server{{
		Addr:              o.listen,
		Handler:           gw,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No ReadTimeout/WriteTimeout: MCP event streams stay open for as
		// long as the session lives.
		BaseContext: func(net.Listener) context.Context { return runCtx },
		ErrorLog:    errorLog,
	}}
	if o.metricsListen != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", gw.MetricsHandler())
		servers = append(servers, &http.Server{Addr: o.metricsListen, Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errorLog})
	}
	errc := make(chan error, len(servers))
	for _, srv := range servers {
		go func() { errc <- srv.ListenAndServe() }()
	}
	log.Info("mcp-gateway listening", "listen", o.listen, "metrics", o.metricsListen, "auth", o.authMode, "namespaces", o.namespaces)
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", o.grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), o.grace)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
	}
	return nil
}

func authorizer(o options, client kubernetes.Interface, log *slog.Logger) (auth.Authorizer, error) {
	switch o.authMode {
	case "kubernetes":
		return auth.NewKubernetes(client, splitList(o.audiences), o.authCacheTTL), nil
	case "tokens":
		if o.tokensFile == "" {
			return nil, errors.New("--auth=tokens needs --tokens-file")
		}
		return auth.LoadTokens(o.tokensFile)
	case "none":
		for range 3 {
			log.Warn("AUTH IS DISABLED (--auth=none): anyone who reaches this gateway can use every MCP server and restart them. Local development only.")
		}
		return auth.None{}, nil
	}
	return nil, fmt.Errorf("--auth=%q: want kubernetes, tokens or none", o.authMode)
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("loading kubeconfig: %w", err)
		}
		return cfg, nil
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("in-cluster config (use --kubeconfig outside a cluster): %w", err)
	}
	return cfg, nil
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
