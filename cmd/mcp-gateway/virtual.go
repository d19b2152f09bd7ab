package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/virtual"
	"github.com/archestra-ai/mcp-orchestrator/internal/version"
)

// virtualFlags configure virtual servers (package virtual).
type virtualFlags struct {
	enabled     bool
	listTimeout time.Duration
	cacheTTL    time.Duration
}

func (v *virtualFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&v.enabled, "virtual-servers", true, "serve virtual servers: ConfigMaps labelled "+api.VirtualServerLabel+"=<name> (needs list/watch on ConfigMaps in the served namespaces)")
	fs.DurationVar(&v.listTimeout, "virtual-list-timeout", 2*time.Second, "how long a virtual server's list waits for slow members; those that have not answered are left out")
	fs.DurationVar(&v.cacheTTL, "virtual-cache-ttl", 30*time.Second, "how long a replica keeps a member's discovery and resource lists (which member owns a URI)")
}

// options returns the virtual servers' options, nil when they are off.
// The replica's address for other replicas is POD_IP (the downward API)
// and the port of --listen.
func (v *virtualFlags) options(listen string) (*virtual.Options, error) {
	if !v.enabled {
		return nil, nil
	}
	if v.listTimeout <= 0 || v.cacheTTL <= 0 {
		return nil, fmt.Errorf("--virtual-list-timeout and --virtual-cache-ttl must be positive")
	}
	o := &virtual.Options{ListTimeout: v.listTimeout, CacheTTL: v.cacheTTL, Version: version.Version}
	if ip := os.Getenv("POD_IP"); ip != "" {
		_, port, err := net.SplitHostPort(listen)
		if err != nil {
			return nil, fmt.Errorf("--listen=%q: %w", listen, err)
		}
		o.Peer = net.JoinHostPort(ip, port)
	}
	return o, nil
}
