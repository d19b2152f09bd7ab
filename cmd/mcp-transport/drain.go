package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// drain is the server container's preStop hook: the sidecar serves /drain
// only to the pod itself, so the kubelet runs this in the pod (exec) rather
// than calling the port. It waits for the sidecar's answer, which comes
// once no request is in flight or its grace is over.
func drain(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("drain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "https://127.0.0.1:"+strconv.Itoa(api.SidecarPort)+api.DrainPath, "the sidecar's drain endpoint, on the pod's loopback")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long (the kubelet ends the hook at the pod's grace period anyway)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *url, nil)
	if err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	// The sidecar's certificate is ephemeral and this is the pod's own
	// loopback: there is nothing to verify it against, nor anyone between.
	tr := &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}} //nolint:gosec // loopback, see above
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("drain: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprint(stderr, string(body))
	return nil
}
