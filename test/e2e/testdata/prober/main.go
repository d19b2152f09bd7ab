// Command prober is the end-to-end suite's stand-in for a compromised pod
// in another namespace: it sleeps until the test runs it with `kubectl
// exec`, then sends one HTTP request straight to a pod IP, optionally
// with a client certificate read from stdin (PEM certificate and key),
// and prints what came back as JSON.
//
//	prober                      sleep (the pod's command)
//	prober call [-cert-stdin] [-H 'Name: value']... [-d BODY] URL
package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

type result struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	Error   string            `json:"error,omitempty"`
}

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	if len(os.Args) < 2 || os.Args[1] != "call" {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		return
	}
	fs := flag.NewFlagSet("call", flag.ExitOnError)
	certStdin := fs.Bool("cert-stdin", false, "read a PEM client certificate and key from stdin")
	body := fs.String("d", "", "POST this body (GET without)")
	var hs headers
	fs.Var(&hs, "H", "request header, 'Name: value' (repeatable)")
	_ = fs.Parse(os.Args[2:])
	out := call(fs.Arg(0), *body, hs, *certStdin)
	_ = json.NewEncoder(os.Stdout).Encode(out)
}

func call(url, body string, hs headers, certStdin bool) result {
	// The sidecar's serving certificate is ephemeral: like the gateway, the
	// prober does not verify it.
	cfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // see above
	if certStdin {
		pem, err := io.ReadAll(os.Stdin)
		if err != nil {
			return result{Error: err.Error()}
		}
		cert, err := tls.X509KeyPair(pem, pem)
		if err != nil {
			return result{Error: "client certificate: " + err.Error()}
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	method, rd := http.MethodGet, io.Reader(nil)
	if body != "" {
		method, rd = http.MethodPost, bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return result{Error: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for _, h := range hs {
		if k, v, ok := strings.Cut(h, ":"); ok {
			req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return result{Error: err.Error()}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	out := result{Status: resp.StatusCode, Body: string(b), Headers: map[string]string{}}
	for k := range resp.Header {
		out.Headers[k] = resp.Header.Get(k)
	}
	return out
}
