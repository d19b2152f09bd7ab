// Package gateway assembles the mcp-gateway: discovery, the MCP proxy on
// /mcp/{namespace}/{server} behind auth, the operators' API, health and
// metrics. Each concern lives in its own sub-package; this one wires them.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/admin"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/credentials"
	"github.com/archestra-ai/mcp-orchestrator/gateway/discovery"
	"github.com/archestra-ai/mcp-orchestrator/gateway/hibernate"
	"github.com/archestra-ai/mcp-orchestrator/gateway/metrics"
	"github.com/archestra-ai/mcp-orchestrator/gateway/origin"
	"github.com/archestra-ai/mcp-orchestrator/gateway/proxy"
	"github.com/archestra-ai/mcp-orchestrator/gateway/session"
	"github.com/archestra-ai/mcp-orchestrator/gateway/virtual"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
	"github.com/archestra-ai/mcp-orchestrator/internal/server"
)

// Config configures a Gateway.
type Config struct {
	Client kubernetes.Interface
	// Namespaces to serve; empty: all.
	Namespaces []string
	Codec      *session.Codec
	Auth       auth.Authorizer
	// Resources, when set (--public-url), names each server's canonical URL:
	// the audience its tokens carry and the Protected Resource Metadata
	// served for it. RequiredScopes must be in every OAuth access token.
	Resources      *auth.Resources
	RequiredScopes []string
	Log            *slog.Logger
	// Registry receives the metrics; nil: a new one with the Go and
	// process collectors.
	Registry *prometheus.Registry
	// DialTimeout and HeaderTimeout bound the wait for a pod (0: 5s, 60s).
	DialTimeout, HeaderTimeout time.Duration
	// MaxBodyBytes limits MCP POST bodies (0: 16 MiB).
	MaxBodyBytes int64
	// CallerCredentials enables per-caller credential Secrets (see package
	// credentials); it needs list/watch on Secrets in the served namespaces.
	CallerCredentials bool
	// ClientCertificate is presented to the sidecars that authenticate
	// their caller (a certwatcher's, reloaded when the files change); nil:
	// none, and such sidecars refuse the gateway.
	ClientCertificate proxy.ClientCertificate
	// SeparateMetrics keeps /metrics off the clients' handler: server and
	// tool names are for operators, and the clients' port is public. The
	// caller then serves MetricsHandler on a port of its own.
	SeparateMetrics bool
	// Hibernation, if set, scales idle servers to zero and wakes them on
	// the first request (Namespace, Identity and the windows; the rest is
	// filled in here).
	Hibernation *hibernate.Options
	// PublicURLs are the gateway's canonical external URLs (--public-url):
	// the names and origins browsers may use besides addresses and
	// localhost (see package origin).
	PublicURLs []*url.URL
	// AllowedHosts are more names accepted in Host, such as the Service's
	// DNS names.
	AllowedHosts []string
	// Virtual, if set, serves virtual servers (package virtual; Client,
	// Members, Pods and the like are filled in here).
	Virtual *virtual.Options
}

// Gateway is one replica.
type Gateway struct {
	Registry    *discovery.Registry
	Credentials *credentials.Store // nil unless enabled
	Hibernation *hibernate.Manager // nil unless enabled
	Virtual     *virtual.Virtual   // nil unless enabled
	Metrics     *metrics.Metrics
	handler     http.Handler
	metrics     http.Handler
}

// New builds a gateway; call Start to begin discovery.
func New(cfg Config) (*Gateway, error) {
	if cfg.Client == nil || cfg.Codec == nil || cfg.Auth == nil || cfg.Log == nil {
		return nil, errors.New("gateway: Client, Codec, Auth and Log are required")
	}
	cfg.defaults()
	reg, err := discovery.NewRegistry(cfg.Client, cfg.Namespaces, cfg.Log)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	g := &Gateway{Registry: reg}
	var creds proxy.Credentials
	if cfg.CallerCredentials {
		if g.Credentials, err = credentials.NewStore(cfg.Client, cfg.Namespaces, cfg.Log); err != nil {
			return nil, fmt.Errorf("caller credentials: %w", err)
		}
		creds = g.Credentials
	}
	m := metrics.New(cfg.Registry)
	metrics.RegisterSessions(cfg.Registry, reg.Sessions)
	g.Metrics = m
	guard := &auth.Guard{Auth: cfg.Auth, Log: cfg.Log, Resources: cfg.Resources, RequiredScopes: cfg.RequiredScopes,
		Denied: func(d auth.Denial) { m.AuthDenials.WithLabelValues(string(d)).Inc() }}
	popts := proxy.Options{
		Router: reg, Credentials: creds, Codec: cfg.Codec, Metrics: m, Log: cfg.Log,
		Transport:    proxy.NewUpstreamTransport(cfg.DialTimeout, cfg.HeaderTimeout, cfg.ClientCertificate),
		MaxBodyBytes: cfg.MaxBodyBytes,
	}
	var hib admin.Hibernation
	if cfg.Hibernation != nil {
		o := *cfg.Hibernation
		o.Client, o.Namespaces, o.Pods, o.Log, o.Metrics = cfg.Client, cfg.Namespaces, reg, cfg.Log, cfg.Registry
		if o.HTTP == nil {
			// The sidecars' /metrics and /readyz, over HTTPS where they
			// authenticate their caller (the probes need no certificate).
			o.HTTP = &http.Client{Timeout: 3 * time.Second, Transport: proxy.NewUpstreamTransport(cfg.DialTimeout, 2*time.Second, cfg.ClientCertificate)}
		}
		if g.Hibernation, err = hibernate.New(o); err != nil {
			return nil, fmt.Errorf("hibernation: %w", err)
		}
		hib = g.Hibernation
		popts.Activity, popts.Waker = g.Hibernation, g.Hibernation
		popts.Router = router{Registry: reg, known: g.Hibernation.Known}
	}
	px := proxy.New(popts)
	mcpHandler := http.Handler(px)
	if cfg.Virtual != nil {
		if g.Virtual, err = g.virtual(cfg, px, popts.Router); err != nil {
			return nil, fmt.Errorf("virtual servers: %w", err)
		}
		mcpHandler = g.Virtual.Handler(px)
	}
	g.routes(cfg, guard, mcpHandler, hib)
	return g, nil
}

// virtual builds the virtual servers over the proxy: members are reached
// through it, as their own endpoints would be.
func (g *Gateway) virtual(cfg Config, px http.Handler, r proxy.Router) (*virtual.Virtual, error) {
	o := *cfg.Virtual
	o.Client, o.Namespaces, o.Members, o.Pods, o.Codec, o.Log = cfg.Client, cfg.Namespaces, px, g.Registry, cfg.Codec, cfg.Log
	o.Known, o.Metrics, o.MaxBodyBytes = r.Known, cfg.Registry, cfg.MaxBodyBytes
	if g.Hibernation != nil {
		o.Hibernated = g.Hibernation.Hibernated
	}
	return virtual.New(o)
}

func (cfg *Config) defaults() {
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
		cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.HeaderTimeout == 0 {
		cfg.HeaderTimeout = 60 * time.Second
	}
}

// routes is the gateway's HTTP surface: MCP behind the Host/Origin check
// and auth, the operators' API, probes and (unless separate) metrics.
func (g *Gateway) routes(cfg Config, guard *auth.Guard, px http.Handler, hib admin.Hibernation) {
	mux := http.NewServeMux()
	// DNS rebinding is refused before auth: it costs no token review.
	hosts := origin.New(origin.Config{PublicURLs: cfg.PublicURLs, Hosts: cfg.AllowedHosts})
	mux.Handle("/mcp/{namespace}/{server}", hosts.Handler(writeRPCError, guard.Handler(func(r *http.Request) auth.Attributes {
		return auth.Attributes{Verb: api.VerbUse, Namespace: r.PathValue("namespace"), Name: r.PathValue("server")}
	}, writeRPCError, px)))
	if cfg.Resources != nil {
		cfg.Resources.Register(mux)
	}
	a := &admin.API{Client: cfg.Client, Namespaces: cfg.Namespaces, Guard: guard, Log: cfg.Log, Hibernation: hib}
	if g.Virtual != nil {
		a.Virtual = g.Virtual
	}
	a.Register(mux)
	server.AddProbes(mux, func() error {
		if !g.synced() {
			return errors.New("informers not synced")
		}
		return nil
	})
	g.metrics = promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{})
	if !cfg.SeparateMetrics {
		mux.Handle("GET "+api.MetricsPath, g.metrics)
	}
	g.handler = mux
}

// MetricsHandler serves the Prometheus metrics.
func (g *Gateway) MetricsHandler() http.Handler { return g.metrics }

// Start runs discovery (and the credential informer) until ctx ends.
func (g *Gateway) Start(ctx context.Context) {
	g.Registry.Start(ctx)
	if g.Credentials != nil {
		g.Credentials.Start(ctx)
	}
	if g.Hibernation != nil {
		g.Hibernation.Start(ctx)
	}
	if g.Virtual != nil {
		g.Virtual.Start(ctx)
	}
}

// WaitForSync blocks until every informer has its initial list.
func (g *Gateway) WaitForSync(ctx context.Context) bool {
	if !g.Registry.WaitForSync(ctx) {
		return false
	}
	if g.Hibernation != nil && !g.Hibernation.WaitForSync(ctx) {
		return false
	}
	if g.Virtual != nil && !cache.WaitForCacheSync(ctx.Done(), g.Virtual.HasSynced) {
		return false
	}
	return g.Credentials == nil || g.Credentials.WaitForSync(ctx)
}

func (g *Gateway) synced() bool {
	return g.Registry.HasSynced() && (g.Credentials == nil || g.Credentials.HasSynced()) &&
		(g.Hibernation == nil || g.Hibernation.HasSynced()) && (g.Virtual == nil || g.Virtual.HasSynced())
}

// router is discovery, plus hibernation's knowledge of servers without a
// pod (hibernated): their requests keep the server's metric label.
type router struct {
	*discovery.Registry
	known func(namespace, server string) bool
}

func (r router) Known(namespace, server string) bool {
	return r.Registry.Known(namespace, server) || r.known(namespace, server)
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.handler.ServeHTTP(w, r) }

// writeRPCError answers MCP clients in JSON-RPC, which they can show.
func writeRPCError(w http.ResponseWriter, _ *http.Request, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(mcp.ErrorResponse(nil, api.CodeServerError, msg, nil))
}
