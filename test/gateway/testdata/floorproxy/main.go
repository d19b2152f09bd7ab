// Command floorproxy is the floor of the gateway benchmarks: a reverse
// proxy in net/http that forwards /mcp/<name> to one pod each, through the
// gateway's own upstream transport (mTLS with its client certificate,
// kept-alive connections), flushing every write, and does nothing else (no
// auth, no discovery, no session ids, no MCP). What any gateway on
// net/http costs per call before it does anything of its own.
//
//	floorproxy --listen ADDR --cert F --key F --route NAME=URL [--route ...]
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/gateway/proxy"
)

type routes map[string]*url.URL

func (r routes) String() string { return fmt.Sprint(map[string]*url.URL(r)) }

func (r routes) Set(v string) error {
	name, raw, ok := strings.Cut(v, "=")
	u, err := url.Parse(raw)
	if !ok || err != nil {
		return fmt.Errorf("--route NAME=URL, got %q", v)
	}
	r[name] = u
	return nil
}

// buffers is ReverseProxy's BufferPool on a sync.Pool.
type buffers struct{}

var pool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (buffers) Get() []byte  { return *pool.Get().(*[]byte) }
func (buffers) Put(b []byte) { pool.Put(&b) }

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address")
	certFile := flag.String("cert", "", "client certificate for the pods")
	keyFile := flag.String("key", "", "its key")
	to := routes{}
	flag.Var(to, "route", "NAME=URL: /mcp/NAME goes to URL")
	flag.Parse()
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		log.Fatal(err)
	}
	transport := proxy.NewUpstreamTransport(5*time.Second, 60*time.Second, func() (*tls.Certificate, error) { return &cert, nil })
	mux := http.NewServeMux()
	for name, u := range to {
		mux.Handle("/mcp/"+name, &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				target := *u
				pr.Out.URL, pr.Out.Host = &target, u.Host
			},
			Transport:     transport,
			FlushInterval: -1,
			BufferPool:    buffers{},
		})
	}
	mux.HandleFunc("GET /readyz", func(http.ResponseWriter, *http.Request) {})
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintln(os.Stderr, "listening on", l.Addr())
	log.Fatal((&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}).Serve(l))
}
