// Command conformance-server is a legacy MCP server (initialize handshake,
// protocol revisions 2024-11-05..2025-11-25, go-sdk v1.4.1) with every tool,
// resource and prompt the MCP conformance suite's server scenarios call, for
// both requirement sets: 2025-11-25 and 2026-07-28.
//
// The 2026-07-28 scenarios expect stateless servers that answer with
// InputRequiredResults (MRTR). This server cannot: it does what a legacy
// server does instead, sending elicitation/create, sampling/createMessage
// and roots/list to the client during the call. It exists so that a bridge
// presenting legacy servers to 2026 clients (the mcp-transport sidecar) can be
// proven with the suite. To let the bridge name the InputRequiredResult's
// inputRequests keys the way the scenarios check them, every such request of
// the input-required tools carries the key in
// params._meta["io.archestra.mcp/inputKey"].
//
// It serves stdio by default; -http ADDR serves the same server with go-sdk
// v1.4.1's stateful streamable HTTP handler (every path), which is how the
// suite can be run against it directly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "conformance-server:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("conformance-server", flag.ContinueOnError)
	httpAddr := fs.String("http", "", "serve streamable HTTP on this address instead of stdio")
	watchEvery := fs.Duration("watch-interval", 3*time.Second,
		"how often test://watched-resource changes (subscribers get notifications/resources/updated)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := newServer(logger)
	go srv.watchResource(ctx, *watchEvery)

	if *httpAddr == "" {
		// The client closing stdin is how a stdio session normally ends.
		err := srv.mcp.Run(ctx, &mcp.StdioTransport{})
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("serving stdio: %w", err)
		}
		return nil
	}
	return serveHTTP(ctx, *httpAddr, srv.mcp)
}

// serveHTTP serves the one server to every HTTP session until ctx ends.
func serveHTTP(ctx context.Context, addr string, server *mcp.Server) error {
	// The event store makes streams resumable (SEP-1699): the handler then
	// primes every SSE stream with an event id, and test_reconnection's
	// result survives the stream it closes.
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{EventStore: mcp.NewMemoryEventStore(nil)})
	hs := &http.Server{Addr: addr, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(shutdown)
	}()
	fmt.Fprintf(os.Stderr, "conformance-server: streamable HTTP on %s\n", addr)
	if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving HTTP on %s: %w", addr, err)
	}
	return nil
}
