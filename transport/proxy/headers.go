package proxy

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// headerSource reads extra request headers from a directory: each file is
// one header, the file name its name and the content its value. It is meant
// for a mounted Secret (request-headers-secret). Kubernetes updates such a
// mount by swapping a symlink, so the directory is simply re-read at most
// every TTL; values are never logged.
type headerSource struct {
	dir string
	ttl time.Duration
	log *slog.Logger

	mu      sync.Mutex
	loaded  time.Time
	headers map[string]string
	names   string // for change detection in logs
}

func newHeaderSource(dir string, ttl time.Duration, log *slog.Logger) *headerSource {
	return &headerSource{dir: dir, ttl: ttl, log: log}
}

// get returns the current headers (name -> value). A read error keeps the
// previous set: a Secret update in progress must not drop credentials.
func (h *headerSource) get() map[string]string {
	if h == nil || h.dir == "" {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.headers != nil && time.Since(h.loaded) < h.ttl {
		return h.headers
	}
	hs, err := readHeaderDir(h.dir)
	h.loaded = time.Now()
	if err != nil {
		h.log.Warn("reading request headers directory", "dir", h.dir, "err", err)
		if h.headers == nil {
			h.headers = map[string]string{}
		}
		return h.headers
	}
	names := make([]string, 0, len(hs))
	for n := range hs {
		names = append(names, n)
	}
	sort.Strings(names)
	if joined := strings.Join(names, ","); joined != h.names || h.headers == nil {
		h.log.Info("request headers loaded", "names", names)
		h.names = joined
	}
	h.headers = hs
	return hs
}

func readHeaderDir(dir string) (map[string]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	out := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		// Secret volumes hold ..data and timestamped dirs next to the keys.
		if strings.HasPrefix(name, ".") || !validHeaderName(name) {
			continue
		}
		path := filepath.Join(dir, name)
		st, err := os.Stat(path) // follows the key -> ..data symlink
		if err != nil || st.IsDir() {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading header %s: %w", name, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, fmt.Errorf("header %s: value spans several lines", name)
		}
		out[name] = v
	}
	return out, nil
}

// validHeaderName accepts RFC 9110 tokens.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
