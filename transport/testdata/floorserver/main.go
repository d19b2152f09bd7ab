// Command floorserver is the floor of BenchmarkSidecarHop: an MCP endpoint
// served as the sidecar serves its own (net/http, TLS with the gateway's
// client certificate verified by transport/gatewayauth), that answers
// tools/call at once from a canned result and starts no process: what any
// sidecar on net/http costs per call before it does anything of its own.
// It speaks just enough of both eras for the Go SDK client: initialize,
// notifications, a silent GET stream, server/discover, tools/call.
// With --relay it answers from one stdio process instead (relay.go).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
	"github.com/archestra-ai/mcp-orchestrator/transport/gatewayauth"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address")
	bundle := flag.String("client-ca-file", "", "the gateway's CA bundle")
	command := flag.String("relay", "", "a stdio MCP server to relay every message to (one client at a time)")
	flag.Parse()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	v := &gatewayauth.Verifier{Bundle: gatewayauth.NewBundle(*bundle, logger), Log: logger}
	e := &endpoint{}
	if *command != "" {
		r, err := startRelay(*command)
		if err != nil {
			log.Fatal(err)
		}
		e.relay = r
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", v.Wrap(http.HandlerFunc(e.serve)))
	mux.HandleFunc("GET "+api.ReadyPath, func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET "+api.MetricsPath, func(w http.ResponseWriter, _ *http.Request) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(w, "go_memstats_mallocs_total %d\n", ms.Mallocs)
	})
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := gatewayauth.ServerTLS()
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, TLSConfig: cfg, ConnContext: gatewayauth.ConnContext}
	// The line the benchmark's process helper waits for.
	logger.Info("mcp-transport serving", "addr", l.Addr().String())
	log.Fatal(srv.ServeTLS(l, "", ""))
}

// endpoint answers from canned results, or from relay when set.
type endpoint struct{ relay *relay }

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
		<-r.Context().Done()
		return
	case http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
		return
	}
	body := make([]byte, max(r.ContentLength, 0))
	_, err := io.ReadFull(r.Body, body)
	if r.ContentLength < 0 {
		body, err = io.ReadAll(r.Body)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	m, err := mcp.DecodeOne(body)
	if m != nil && m.Method == "initialize" {
		w.Header().Set(api.HeaderSessionID, "floor-session")
	}
	switch {
	case err != nil:
		w.WriteHeader(http.StatusAccepted)
	case e.relay != nil:
		e.relay.serve(w, body, m)
	case m.Kind != mcp.KindRequest:
		w.WriteHeader(http.StatusAccepted)
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer(m))
	}
}

// answer is the canned result of m.
func answer(m *mcp.Message) []byte {
	var result string
	switch m.Method {
	case "initialize":
		v, _ := json.Marshal(mcp.InitializeVersion(m.Raw))
		result = `{"protocolVersion":` + string(v) + `,"capabilities":{"tools":{}},"serverInfo":{"name":"floor","version":"1"}}`
	case "server/discover":
		result = `{"resultType":"complete","supportedVersions":["` + api.MCPVersion20260728 + `","` + api.MCPVersion20251125 +
			`"],"capabilities":{"tools":{}},"_meta":{"` + api.MetaServerInfo + `":{"name":"floor","version":"1"}}}`
	case "tools/call":
		text, _ := json.Marshal(mcp.StringValue(mcp.Lookup(m.Params, "arguments", "text")))
		result = `{"content":[{"type":"text","text":` + string(text) + `}],"resultType":"complete"}`
	default:
		return mcp.ErrorResponse(m.ID, mcp.CodeMethodNotFound, "Method not found: "+strconv.Quote(m.Method), nil)
	}
	return []byte(`{"jsonrpc":"2.0","id":` + string(m.ID) + `,"result":` + result + `}`)
}
