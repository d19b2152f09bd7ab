package hibernate

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/discovery"
)

// maxMetricsBytes bounds a sidecar's /metrics read.
const maxMetricsBytes = 4 << 20

// probe asks every pod of d's server whether a session or a request (an
// SSE stream included) is open, from the gauges the sidecar already
// exports on /metrics (api.MetricSessions, api.MetricInFlight). A pod that
// cannot be asked (no IP yet, no answer, not our sidecar) is a doubt.
func (m *Manager) probe(ctx context.Context, d *appsv1.Deployment) Pods {
	eps := m.pods.Endpoints(d.Namespace, d.Labels[api.ServerLabel])
	if int32(len(eps)) < specReplicas(d) {
		m.log.Info("hibernation: a pod has no IP yet, not asked", "namespace", d.Namespace, "deployment", d.Name)
		return PodsFailed
	}
	for _, ep := range eps {
		open, err := m.openWork(ctx, ep)
		if err != nil {
			m.log.Info("hibernation: a pod could not be asked", "namespace", d.Namespace, "pod", ep.Pod, "error", err.Error())
			return PodsFailed
		}
		if open > 0 {
			m.log.Debug("hibernation: sessions or requests open", "namespace", d.Namespace, "pod", ep.Pod, "open", open)
			return PodsBusy
		}
	}
	return PodsIdle
}

// openWork is the number of open sessions plus requests in flight of one
// pod. A sidecar older than the in-flight gauge reports sessions only.
func (m *Manager) openWork(ctx context.Context, ep *discovery.Endpoint) (float64, error) {
	body, err := m.sidecarGet(ctx, ep, api.MetricsPath)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	var open float64
	sessions := false
	sc := bufio.NewScanner(io.LimitReader(body, maxMetricsBytes))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || (name != api.MetricSessions && name != api.MetricInFlight) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q is not a number", name, value)
		}
		sessions = sessions || name == api.MetricSessions
		open += v
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading metrics: %w", err)
	}
	if !sessions {
		return 0, fmt.Errorf("no %s in its metrics: not an mcp-transport sidecar", api.MetricSessions)
	}
	return open, nil
}

// sidecarGet GETs path on the pod's sidecar (the host and port of its MCP
// endpoint) and returns the body of a 200.
func (m *Manager) sidecarGet(ctx context.Context, ep *discovery.Endpoint, path string) (io.ReadCloser, error) {
	u := *ep.URL
	u.Path, u.RawQuery = path, ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := m.opts.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return resp.Body, nil
}

// readyPoll is how often a woken pod's readiness endpoint is asked while
// the kubelet has not reported it Ready; servingMark is how long a yes
// lets the pod take requests before the kubelet's word.
const (
	readyPoll   = 100 * time.Millisecond
	servingMark = 15 * time.Second
)

// serving reports whether a pod's readiness endpoint (the check the
// kubelet's probe makes: a real MCP handshake succeeded) answers 200.
func (m *Manager) serving(ctx context.Context, ep *discovery.Endpoint) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	body, err := m.sidecarGet(ctx, ep, api.ReadyPath)
	if err != nil {
		return false
	}
	_ = body.Close()
	return true
}
