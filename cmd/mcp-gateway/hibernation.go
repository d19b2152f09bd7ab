package main

import (
	"cmp"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/hibernate"
)

// hibernationFlags configure hibernation (package hibernate).
type hibernationFlags struct {
	enabled          bool
	afterDefault     string
	minWindow        time.Duration
	wakeTimeout      time.Duration
	activityInterval time.Duration
	namespace        string
}

func (h *hibernationFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&h.enabled, "hibernation", true, "scale servers with "+api.AnnHibernateAfter+" to zero when idle and wake them on the next request (needs the leases of --lease-namespace and deployments/scale)")
	fs.StringVar(&h.afterDefault, "hibernate-after-default", api.HibernateOff, "hibernate-after of Deployments without the annotation: a duration, or off")
	fs.DurationVar(&h.minWindow, "hibernate-min-window", api.MinHibernateAfter, "shorter windows are raised to this; lower it for tests only (with the webhook's hibernation.minWindow)")
	fs.DurationVar(&h.wakeTimeout, "wake-timeout", 30*time.Second, "how long a request for a waking server is held before 503 with Retry-After (the wake goes on)")
	fs.DurationVar(&h.activityInterval, "activity-interval", 30*time.Second, "at most one activity Lease write per server per interval and replica; a server counts as idle after its window plus two intervals")
	fs.StringVar(&h.namespace, "lease-namespace", cmp.Or(os.Getenv("POD_NAMESPACE"), "mcp-system"), "namespace of the hibernator's and the activity Leases (default: the pod's, $POD_NAMESPACE)")
}

// options returns the hibernation options, nil when it is off.
func (h *hibernationFlags) options() (*hibernate.Options, error) {
	if !h.enabled {
		return nil, nil
	}
	def, err := api.ParseHibernateAfter(h.afterDefault)
	switch {
	case err != nil:
		return nil, fmt.Errorf("--hibernate-after-default=%q: %w", h.afterDefault, err)
	case h.minWindow <= 0 || h.wakeTimeout <= 0 || h.activityInterval <= 0:
		return nil, fmt.Errorf("--hibernate-min-window, --wake-timeout and --activity-interval must be positive")
	case def > 0 && def < h.minWindow:
		return nil, fmt.Errorf("--hibernate-after-default=%s is shorter than --hibernate-min-window=%s", def, h.minWindow)
	}
	id := os.Getenv("POD_NAME")
	if id == "" {
		if id, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("no POD_NAME and no hostname for this replica's identity: %w", err)
		}
	}
	return &hibernate.Options{Namespace: h.namespace, Identity: id, Default: def, MinWindow: h.minWindow,
		WakeTimeout: h.wakeTimeout, ActivityInterval: h.activityInterval}, nil
}
