package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProbes(t *testing.T) {
	t.Parallel()
	var notReady error = errors.New("informers not synced")
	mux := http.NewServeMux()
	AddProbes(mux, func() error { return notReady })
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	code, body := get("/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "informers not synced")
	code, _ = get("/healthz")
	assert.Equal(t, http.StatusOK, code, "liveness does not depend on readiness")
	notReady = nil
	code, _ = get("/readyz")
	assert.Equal(t, http.StatusOK, code)
}

// Serve answers the request in flight when the context ends, then returns.
func TestServeShutsDownGracefully(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	started, release := make(chan struct{}), make(chan struct{})
	srv := NewHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "done")
	}), log)
	l, err := Listen("test", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, log, 10*time.Second, Listener{Server: srv, Listener: l}) }()
	answer := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + l.Addr().String())
		if err != nil {
			answer <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answer <- string(b)
	}()
	<-started
	cancel()
	close(release)
	assert.Equal(t, "done", <-answer)
	require.NoError(t, <-served)
}

func TestRESTConfigOutsideACluster(t *testing.T) {
	t.Parallel()
	_, err := RESTConfig("")
	require.ErrorContains(t, err, "--kubeconfig")
	_, err = RESTConfig("/nonexistent/kubeconfig")
	require.ErrorContains(t, err, "/nonexistent/kubeconfig")
}

// --pprof serves the profiler on its own listener until the context ends;
// empty serves nothing.
func TestPprof(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	require.NoError(t, Pprof(context.Background(), "", log), "off by default")
	l, err := Listen("probe", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, Pprof(ctx, addr, log))
	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	cancel()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
		if err == nil {
			_ = resp.Body.Close()
		}
		return err != nil
	}, 5*time.Second, 10*time.Millisecond, "the profiler stops with its context")
}

// --max-procs sets GOMAXPROCS unless the environment does; 0 keeps the
// runtime's choice. Not parallel: GOMAXPROCS is the process's.
func TestSetMaxProcs(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	before := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(before) })

	_, err := SetMaxProcs(-1, log)
	require.ErrorContains(t, err, "--max-procs must not be negative")

	got, err := SetMaxProcs(0, log)
	require.NoError(t, err)
	assert.Equal(t, before, got, "0 keeps the runtime's default")

	got, err = SetMaxProcs(before+1, log)
	require.NoError(t, err)
	assert.Equal(t, before+1, got)
	assert.Equal(t, before+1, runtime.GOMAXPROCS(0))

	t.Setenv("GOMAXPROCS", "3")
	got, err = SetMaxProcs(1, log)
	require.NoError(t, err)
	assert.Equal(t, before+1, got, "GOMAXPROCS in the environment wins")
}
