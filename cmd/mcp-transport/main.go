// Command mcp-transport is the MCP Orchestrator sidecar, in one static
// binary with three roles:
//
//	mcp-transport install --dest /mcp-transport/bin/mcp-transport
//	    copies itself into the shared volume (init container).
//	mcp-transport serve --mode stdio|streamable-http ...
//	    the sidecar: MCP streamable HTTP on --listen/--path, plus
//	    /healthz, /readyz, /metrics.
//	mcp-transport launch --socket /mcp-transport/run/launcher.sock -- CMD [ARGS...]
//	    PID 1 of the MCP server container: starts CMD ARGS for the sidecar.
//	mcp-transport drain [--url https://127.0.0.1:8080/drain]
//	    the server container's preStop hook: asks the sidecar, from inside
//	    the pod, to drain, and waits until it has.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/logging"
	"github.com/archestra-ai/mcp-orchestrator/internal/server"
	"github.com/archestra-ai/mcp-orchestrator/transport"
	"github.com/archestra-ai/mcp-orchestrator/transport/launcher"
)

const usage = `usage:
  mcp-transport install --dest PATH
  mcp-transport serve [flags]
  mcp-transport launch --socket PATH -- CMD [ARGS...]
  mcp-transport drain [--url URL] [--timeout D]
`

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	// A bad MCP_TRANSPORT_LOG_LEVEL must not stop a pod from starting: info.
	log, lerr := logging.New(stderr, os.Getenv("MCP_TRANSPORT_LOG_LEVEL"))
	if lerr != nil {
		log, _ = logging.New(stderr, "info")
	}
	var role func(ctx context.Context, log *slog.Logger) error
	switch args[0] {
	case "install":
		role = func(context.Context, *slog.Logger) error { return install(args[1:], stderr) }
	case "serve":
		role = func(ctx context.Context, log *slog.Logger) error { return serve(ctx, args[1:], stderr, log) }
	case "launch":
		role = func(ctx context.Context, log *slog.Logger) error { return launch(ctx, args[1:], stderr, log) }
	case "drain":
		role = func(ctx context.Context, _ *slog.Logger) error { return drain(ctx, args[1:], stderr) }
	case "-h", "--help", "help":
		fmt.Fprint(stderr, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n%s", args[0], usage)
		return 2
	}
	return server.Run("mcp-transport "+args[0], log, func(ctx context.Context, log *slog.Logger) error {
		if err := role(ctx, log); !errors.Is(err, flag.ErrHelp) {
			return err
		}
		return nil
	})
}

func install(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("install", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dest := fs.String("dest", api.LauncherPath, "where to copy this binary")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := transport.Install(*dest); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	return nil
}

func serve(ctx context.Context, args []string, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := transport.Options{Logger: log}
	fs.StringVar(&o.Listen, "listen", ":"+strconv.Itoa(api.SidecarPort), "address of the MCP endpoint, /healthz, /readyz and /metrics")
	fs.StringVar(&o.Path, "path", api.SidecarMCPPath, "path of the MCP streamable-http endpoint")
	fs.StringVar(&o.Mode, "mode", api.TransportStdio, "stdio or streamable-http")
	fs.StringVar(&o.LauncherSocket, "launcher-socket", api.LauncherSocket, "stdio: unix socket of the launcher")
	fs.StringVar(&o.Sessions, "sessions", api.SessionsPerSession, "stdio: per-session or shared")
	fs.IntVar(&o.MaxSessions, "max-sessions", 0, "stdio: max concurrent sessions (0 = unlimited)")
	fs.IntVar(&o.WarmPool, "warm-pool", 1, "stdio: started processes kept ready for new sessions")
	fs.IntVar(&o.WarmPoolMax, "warm-pool-max", 16, "stdio: started processes kept ready after a burst of new sessions found the pool empty, for the next burst (back to --warm-pool after quiet minutes); each is a server process waiting, in memory")
	fs.DurationVar(&o.IdleTimeout, "idle-timeout", 30*time.Minute, "stdio: end sessions idle for this long")
	fs.DurationVar(&o.CacheTTL, "cache-ttl", 0, "stdio, legacy server: the ttlMs its list and read results get for 2026-07-28 clients")
	fs.StringVar(&o.StdioEra, "stdio-era", "", "stdio: the server's protocol era, legacy or modern; empty: probe with server/discover")
	fs.StringVar(&o.Upstream, "upstream", "", "streamable-http: URL of the MCP server, e.g. http://127.0.0.1:3001/mcp")
	fs.StringVar(&o.RequestHeadersDir, "request-headers-dir", "", "streamable-http: directory of header files (a mounted Secret)")
	fs.StringVar(&o.AllowedOrigins, "allowed-origins", "", "comma list of more allowed Origin values (requests without Origin, from their own host or from loopback are allowed)")
	fs.StringVar(&o.AllowedHosts, "allowed-hosts", "", "comma list of more Host names to answer (the pod's own names and addresses and loopback always are; * for any)")
	fs.Int64Var(&o.MaxBodyBytes, "max-body-bytes", 4<<20, "largest accepted request body (413 beyond)")
	fs.DurationVar(&o.ShutdownGrace, "shutdown-grace", 20*time.Second, "how long in-flight requests may finish after SIGTERM")
	fs.StringVar(&o.ClientCAFile, "client-ca-file", "", "the gateway's CA bundle (PEM, re-read when it changes): serve TLS and MCP only to its client certificates, /drain only to the pod itself; empty: plain HTTP, no caller authentication")
	fs.Func("allowed-tools", "comma list of the tools the server may list and call (the allowed-tools annotation); absent: all", func(v string) error {
		o.AllowedTools = splitTools(v)
		return nil
	})
	pprofAddr := server.PprofFlag(fs)
	// One thread: a relay's goroutines hand each message to the next, and
	// with more threads every hand-off wakes an idle one that spins and
	// sleeps again (8-33% of the sidecar's CPU per call, README
	// Performance); one core relays thousands of calls a second.
	maxProcs := server.MaxProcsFlag(fs, 1, "1: the relay's hand-offs stay on one thread.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected arguments %q", strings.Join(fs.Args(), " "))
	}
	if _, err := server.SetMaxProcs(*maxProcs, log); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if err := server.Pprof(ctx, *pprofAddr, log); err != nil {
		return err
	}
	return transport.Serve(ctx, o)
}

func launch(ctx context.Context, args []string, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("launch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", api.LauncherSocket, "unix socket the sidecar connects to")
	grace := fs.Duration("kill-grace", 10*time.Second, "time between SIGTERM and SIGKILL for a child")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// flag stops at "--"; what follows is the server command and, appended
	// by Kubernetes, the container's original args.
	cmd := fs.Args()
	if len(cmd) == 0 {
		return errors.New("launch: missing command after --")
	}
	if err := os.MkdirAll(dirOf(*socket), 0o755); err != nil {
		return fmt.Errorf("launch: creating socket directory: %w", err)
	}
	srv := &launcher.Server{Socket: *socket, Command: cmd, Stderr: stderr, Logger: log, KillGrace: *grace}
	return srv.Run(ctx)
}

// splitTools parses --allowed-tools: never nil, so a given but empty flag
// allows no tool.
func splitTools(v string) []string {
	out := []string{}
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i > 0 {
		return p[:i]
	}
	return "."
}
