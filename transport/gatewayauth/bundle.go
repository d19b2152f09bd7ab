// Package gatewayauth makes the sidecar serve MCP to the gateway only: TLS
// with an ephemeral serving certificate, and every MCP request must come
// on a connection whose client certificate chains to the gateway's CA
// bundle (a ConfigMap the product's controller keeps in the namespace,
// mounted into the sidecar). The bundle file is re-read when the kubelet
// updates the mount, so a CA rotation needs no rollout. The caller identity
// the gateway sends is trusted on such a connection only.
package gatewayauth

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Bundle is the gateway CA bundle of one file, reloaded when it changes.
type Bundle struct {
	path string
	log  *slog.Logger

	mu   sync.RWMutex
	raw  []byte
	pool *x509.CertPool
	gen  uint64 // bumped on every change: cached verifications are redone
	err  error  // why there is no pool (readiness)
}

// NewBundle reads path once; Watch keeps it current.
func NewBundle(path string, log *slog.Logger) *Bundle {
	b := &Bundle{path: path, log: log}
	b.reload()
	return b
}

// Watch re-reads the file every interval until ctx ends. Kubelet swaps a
// ConfigMap mount's symlink atomically, so a read sees the old or the new
// bundle, never half of one; polling is simpler than following the swap
// with inotify, and a bundle changes at most a few times a year.
func (b *Bundle) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			b.reload()
		}
	}
}

func (b *Bundle) reload() {
	raw, err := os.ReadFile(b.path)
	if err == nil {
		b.mu.RLock()
		same := b.pool != nil && bytes.Equal(raw, b.raw)
		b.mu.RUnlock()
		if same {
			return
		}
	}
	var pool *x509.CertPool
	var n int
	if err == nil {
		pool, n, err = parseBundle(raw)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		// A bundle that was good stays: a broken update must not lock the
		// gateway out. Without one, MCP is refused and the pod not ready.
		if b.pool == nil {
			b.err = fmt.Errorf("no gateway CA bundle in %s: %w", b.path, err)
		} else {
			b.log.Warn("gateway CA bundle unreadable, keeping the last one", "path", b.path, "error", err.Error())
		}
		return
	}
	b.raw, b.pool, b.err = raw, pool, nil
	b.gen++
	b.log.Info("gateway CA bundle loaded", "path", b.path, "certificates", n)
}

// parseBundle reads every CA certificate of a PEM bundle.
func parseBundle(raw []byte) (*x509.CertPool, int, error) {
	pool := x509.NewCertPool()
	n := 0
	for rest := raw; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, 0, fmt.Errorf("certificate %d: %w", n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, 0, errors.New("no PEM certificate in it")
	}
	return pool, n, nil
}

// Pool is the current pool and its generation; nil before a bundle loaded.
func (b *Bundle) Pool() (*x509.CertPool, uint64) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.pool, b.gen
}

// Ready is nil once a bundle is loaded (the sidecar's readiness).
func (b *Bundle) Ready() error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.pool == nil {
		if b.err != nil {
			return b.err
		}
		return errors.New("no gateway CA bundle yet")
	}
	return nil
}
