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

	Upstream          string
	RequestHeadersDir string

	AllowedOrigins string
	MaxBodyBytes   int64
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

// Serve runs the sidecar until ctx is cancelled (SIGTERM), then stops
// accepting, drains in-flight requests within ShutdownGrace and stops the
// server processes.
func Serve(ctx context.Context, o Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 20 * time.Second
	}
	met := metrics.New()
	// Readiness holds for 5 minutes after a handshake; an idle pod re-probes
	// with a fresh process after half of that.
	hl := health.NewTracker(5 * time.Minute)

	var endpoint http.Handler
	var drain, closeAll func()
	var busy func() int
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	switch o.Mode {
	case api.TransportStdio:
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
		m := stdio.NewManager(stdio.Config{
			Starter: starter, Shared: o.Sessions == api.SessionsShared, MaxSessions: o.MaxSessions,
			WarmPool: o.WarmPool, IdleTimeout: o.IdleTimeout, Logger: log, Metrics: met, Health: hl,
		})
		endpoint, drain, closeAll, busy = m, m.Drain, m.Close, m.InFlight
	case api.TransportStreamableHTTP:
		u, _ := url.Parse(o.Upstream)
		p := proxy.New(proxy.Config{Upstream: u, HeadersDir: o.RequestHeadersDir, Logger: log, Metrics: met, Health: hl})
		go p.Run(bg)
		endpoint, drain, closeAll = p, func() {}, stopBG
	}

	// /drain is the server container's preStop hook: readiness off, new
	// sessions refused, answered once nothing is in flight (or after grace).
	dr := newDrainer(o.ShutdownGrace, busy, func() {
		hl.SetDraining()
		log.Info("draining: waiting for in-flight requests", "grace", o.ShutdownGrace)
	})
	mux := http.NewServeMux()
	mux.Handle(o.Path, httpguard.Wrap(httpguard.Config{
		Origins:      httpguard.ParseOrigins(o.AllowedOrigins),
		MaxBodyBytes: o.MaxBodyBytes,
		// The server behind us (streamable-http) or the stdio bridge, which
		// knows each session's negotiated version, judges it.
		PassVersions: true,
		OnReject:     func(status int) { met.Error(fmt.Sprint(status)) },
	}, dr.wrap(endpoint)))
	// The server container's preStop hook (httpGet on this port): Kubernetes
	// stops the server container (whose PID 1 is the launcher) before the
	// native sidecar, so the hook holds that until requests in flight end.
	mux.Handle(api.DrainPath, dr)
	mux.HandleFunc(api.HealthPath, health.Healthz)
	mux.Handle(api.ReadyPath, hl.ReadyHandler())
	mux.Handle(api.MetricsPath, met.Handler())

	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		closeAll()
		return fmt.Errorf("listening on %s: %w", o.Listen, err)
	}
	if o.OnListen != nil {
		o.OnListen(ln.Addr())
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Long-lived GET streams would hold Shutdown until the grace ends.
	srv.RegisterOnShutdown(drain)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("mcp-transport serving", "addr", ln.Addr().String(), "path", o.Path, "mode", o.Mode)

	select {
	case err := <-errc:
		closeAll()
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests", "grace", o.ShutdownGrace)
	hl.SetDraining()
	dr.markDraining()
	sctx, cancel := context.WithTimeout(context.Background(), o.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("grace period over; closing remaining connections", "err", err)
		_ = srv.Close()
	}
	closeAll()
	log.Info("stopped")
	return nil
}
