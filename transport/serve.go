// Package transport wires the mcp-transport sidecar together: the MCP
// endpoint (stdio bridge or HTTP proxy) behind the common request checks,
// plus /healthz, /readyz and /metrics, and graceful shutdown.
package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/server"
	"github.com/archestra-ai/mcp-orchestrator/internal/toolfilter"
	"github.com/archestra-ai/mcp-orchestrator/transport/gatewayauth"
	"github.com/archestra-ai/mcp-orchestrator/transport/health"
	"github.com/archestra-ai/mcp-orchestrator/transport/httpguard"
	"github.com/archestra-ai/mcp-orchestrator/transport/launcher"
	"github.com/archestra-ai/mcp-orchestrator/transport/metrics"
	"github.com/archestra-ai/mcp-orchestrator/transport/proxy"
	"github.com/archestra-ai/mcp-orchestrator/transport/stdio"
)

// Options are the `serve` flags.
type Options struct {
	Listen string
	Path   string
	Mode   string

	LauncherSocket string
	Sessions       string // per-session | shared
	MaxSessions    int
	WarmPool       int
	IdleTimeout    time.Duration
	// StdioEra forces the stdio server's protocol era (legacy, modern);
	// empty: the sidecar probes for it.
	StdioEra string
	// CacheTTL is the ttlMs a legacy server's list and read results get
	// for 2026-07-28 clients.
	CacheTTL time.Duration

	Upstream          string
	RequestHeadersDir string

	AllowedOrigins string
	// AllowedHosts are more Host names the endpoint answers (the pod's own
	// names and addresses and loopback always are).
	AllowedHosts string
	MaxBodyBytes int64

	// ClientCAFile is the gateway's CA bundle (the mounted ConfigMap).
	// Set: the sidecar serves TLS and MCP only to the gateway's client
	// certificate, /drain only to the pod itself. Empty: plain HTTP and no
	// caller authentication (local runs, pods injected before).
	ClientCAFile string
	// AllowedTools is the server's allow-list, enforced here as at the
	// gateway; nil allows every tool.
	AllowedTools []string
	// ShutdownGrace bounds draining in-flight requests after SIGTERM.
	ShutdownGrace time.Duration

	Logger *slog.Logger
	// Starter replaces the launcher client (tests, running outside a pod).
	Starter stdio.Starter
	// OnListen is called with the bound address (tests use --listen :0).
	OnListen func(addr net.Addr)
}

// Validate reports every bad option at once.
func (o *Options) Validate() error {
	var errs []error
	switch o.Mode {
	case api.TransportStdio:
		if o.Sessions != api.SessionsPerSession && o.Sessions != api.SessionsShared {
			errs = append(errs, fmt.Errorf("--sessions must be per-session or shared, not %q", o.Sessions))
		}
		if o.MaxSessions < 0 || o.WarmPool < 0 || o.IdleTimeout < 0 {
			errs = append(errs, errors.New("--max-sessions, --warm-pool and --idle-timeout must not be negative"))
		}
		if o.StdioEra != "" && o.StdioEra != stdio.EraLegacy && o.StdioEra != stdio.EraModern {
			errs = append(errs, fmt.Errorf("--stdio-era must be legacy or modern (or empty to probe), not %q", o.StdioEra))
		}
		if o.LauncherSocket == "" && o.Starter == nil {
			errs = append(errs, errors.New("--launcher-socket is required in stdio mode"))
		}
	case api.TransportStreamableHTTP:
		u, err := url.Parse(o.Upstream)
		if o.Upstream == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--upstream must be an http(s) URL, got %q", o.Upstream))
		}
	default:
		errs = append(errs, fmt.Errorf("--mode must be %s or %s, not %q", api.TransportStdio, api.TransportStreamableHTTP, o.Mode))
	}
	if o.Path == "" || o.Path[0] != '/' {
		errs = append(errs, fmt.Errorf("--path must start with /, got %q", o.Path))
	}
	if o.MaxBodyBytes <= 0 {
		errs = append(errs, errors.New("--max-body-bytes must be positive"))
	}
	return errors.Join(errs...)
}

// endpoint is the MCP side of the sidecar: the stdio bridge or the HTTP
// proxy.
type endpoint interface {
	http.Handler
	// Drain ends standing streams so that a graceful shutdown can finish.
	Drain()
	// Close stops what the endpoint runs (server processes, probes).
	Close()
	// InFlight counts work that outlives its HTTP request (stdio requests
	// whose client dropped the connection to resume later).
	InFlight() int
}

// Serve runs the sidecar until ctx is cancelled (SIGTERM), then stops
// accepting, drains in-flight requests within ShutdownGrace and stops the
// server processes.
func Serve(ctx context.Context, o Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	o.defaults()
	met := metrics.New()
	// Readiness holds for 5 minutes after a handshake; an idle pod re-probes
	// with a fresh process after half of that.
	hl := health.NewTracker(5 * time.Minute)
	ep := newEndpoint(o, met, hl)
	defer ep.Close()
	dr := newDrainer(o.ShutdownGrace, ep.InFlight, func() {
		hl.SetDraining()
		o.Logger.Info("draining: waiting for in-flight requests", "grace", o.ShutdownGrace)
	})
	var auth *gatewayauth.Verifier
	if o.ClientCAFile != "" {
		bundle := gatewayauth.NewBundle(o.ClientCAFile, o.Logger)
		go bundle.Watch(ctx, 2*time.Second)
		auth = &gatewayauth.Verifier{Bundle: bundle, Log: o.Logger, Refused: met.Refused}
	}
	ln, err := server.Listen("MCP", o.Listen)
	if err != nil {
		return err
	}
	if o.OnListen != nil {
		o.OnListen(ln.Addr())
	}
	srv := server.NewHTTPServer(routes(o, ep, dr, met, hl, auth), o.Logger)
	srv.IdleTimeout = 0 // the HTTP server's default: keep-alive as long as read timeouts allow
	if auth != nil {
		if srv.TLSConfig, err = gatewayauth.ServerTLS(); err != nil {
			return err
		}
		srv.ConnContext = gatewayauth.ConnContext
	}
	srv.RegisterOnShutdown(func() {
		hl.SetDraining()
		dr.markDraining()
		ep.Drain() // long-lived GET streams would hold Shutdown until the grace ends
	})
	o.Logger.Info("mcp-transport serving", "addr", ln.Addr().String(), "path", o.Path, "mode", o.Mode,
		"callerAuth", auth != nil, "allowedTools", o.AllowedTools != nil)
	err = server.Serve(ctx, o.Logger, o.ShutdownGrace, server.Listener{Server: srv, Listener: ln, TLS: auth != nil})
	o.Logger.Info("stopped")
	return err
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 20 * time.Second
	}
}

// newEndpoint builds the stdio bridge or the HTTP proxy of o.Mode.
func newEndpoint(o Options, met *metrics.Metrics, hl *health.Tracker) endpoint {
	if o.Mode == api.TransportStreamableHTTP {
		u, _ := url.Parse(o.Upstream) // validated
		return proxy.New(proxy.Config{Upstream: u, HeadersDir: o.RequestHeadersDir, Logger: o.Logger, Metrics: met, Health: hl})
	}
	starter := o.Starter
	if starter == nil {
		lc := &launcher.Client{Socket: o.LauncherSocket}
		starter = stdio.StarterFunc(func(ctx context.Context, label string) (stdio.Process, error) {
			p, err := lc.Start(ctx, label)
			if err != nil {
				return nil, err
			}
			return p, nil
		})
	}
	return stdio.NewManager(stdio.Config{
		Starter: starter, Shared: o.Sessions == api.SessionsShared, MaxSessions: o.MaxSessions,
		WarmPool: o.WarmPool, IdleTimeout: o.IdleTimeout, Era: o.StdioEra, CacheTTL: o.CacheTTL, Logger: o.Logger, Metrics: met, Health: hl,
	})
}

// routes is the sidecar's HTTP surface: MCP behind the caller's
// authentication (when configured), the request guard, the allow-list and
// the drain accounting; the preStop drain hook, probes and metrics.
func routes(o Options, ep endpoint, dr *drainer, met *metrics.Metrics, hl *health.Tracker, auth *gatewayauth.Verifier) http.Handler {
	mcpHandler := httpguard.Wrap(httpguard.Config{
		Origins:      httpguard.ParseOrigins(o.AllowedOrigins),
		Hosts:        httpguard.ParseHosts(o.AllowedHosts),
		MaxBodyBytes: o.MaxBodyBytes,
		// The server behind us (streamable-http) or the stdio bridge, which
		// knows each session's negotiated version, judges it.
		PassVersions: true,
		OnReject:     func(status int) { met.Error(fmt.Sprint(status)) },
	}, met.InFlight(toolfilter.Middleware(toolfilter.New(o.AllowedTools), "this server", met.Refused, dr.wrap(ep)), ep.InFlight))
	// The server container's preStop hook: Kubernetes stops the server
	// container (whose PID 1 is the launcher) before the native sidecar,
	// so the hook holds that until requests in flight end. With caller
	// authentication it is an exec of `mcp-transport drain` in the pod,
	// the only place allowed to call it.
	var drain http.Handler = dr
	if auth != nil {
		mcpHandler = auth.Wrap(mcpHandler)
		drain = gatewayauth.FromPod(met.Refused, dr)
	} else {
		mcpHandler = gatewayauth.WithoutIdentity(mcpHandler)
	}
	mux := http.NewServeMux()
	mux.Handle(o.Path, mcpHandler)
	mux.Handle(api.DrainPath, drain)
	server.AddProbes(mux, func() error {
		if ok, reason := hl.Ready(); !ok {
			return errors.New(reason)
		}
		if auth != nil {
			return auth.Bundle.Ready()
		}
		return nil
	})
	mux.Handle("GET "+api.MetricsPath, met.Handler())
	return mux
}
