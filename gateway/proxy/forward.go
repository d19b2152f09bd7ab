package proxy

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/discovery"
	"github.com/archestra-ai/mcp-orchestrator/gateway/session"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
	"github.com/archestra-ai/mcp-orchestrator/internal/toolfilter"
)

// dropRequestHeaders are never sent to a pod, besides the hop-by-hop
// headers (headers.go): the caller's credentials (the pod must not see or
// reuse them), the session id (replaced by the pod's own) and
// Accept-Encoding (a compressed answer would hide tools/list from the
// allow-list filter; the hop is in-cluster).
var dropRequestHeaders = []string{"Authorization", "Cookie", api.HeaderSessionID, "Accept-Encoding",
	// Who the caller is reaches the pod only as the gateway states it.
	api.HeaderCallerUser, api.HeaderCallerGroups}

// dropModernRequestHeaders: a 2026-07-28 stream cannot be resumed, so its
// Last-Event-ID means nothing (the spec: ignore it).
var dropModernRequestHeaders = append([]string{api.HeaderLastEventID}, dropRequestHeaders...)

// dropResponseHeaders: the pod's session id, replaced by the gateway's.
var dropResponseHeaders = []string{api.HeaderSessionID}

// forward sends the request to ep (in the pod's session upstreamSID, if
// any) and streams the answer back. It returns an error only when nothing
// was written to w (the pod did not answer), so the caller can still pick
// another pod or answer 503.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, req *request, ep *discovery.Endpoint, upstreamSID string) error {
	out, err := p.upstreamRequest(r, req, ep, upstreamSID)
	if err != nil {
		return err
	}
	if !req.longLived(r) {
		release := ep.Acquire()
		defer release()
	}
	start := time.Now()
	resp, err := p.Transport.RoundTrip(out)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	p.Metrics.UpstreamLatency.WithLabelValues(req.label).Observe(time.Since(start).Seconds())

	copyHeaders(w.Header(), resp.Header, dropResponseHeaders)
	p.trackSession(w, r, req, ep, resp, upstreamSID != "")
	if err := copyBody(w, resp, toolFilterFor(ep, resp)); err != nil && r.Context().Err() == nil {
		p.Log.Info("response from pod ended early", "namespace", req.ns, "server", req.server, "pod", ep.Pod, "error", err.Error())
	}
	return nil
}

// upstreamRequest is the request to the pod: the client's method, body and
// headers, minus what must not cross (dropRequestHeaders), plus the pod's
// session id, the caller as the gateway authenticated it and the
// operator's per-caller credentials.
func (p *Proxy) upstreamRequest(r *http.Request, req *request, ep *discovery.Endpoint, upstreamSID string) (*http.Request, error) {
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	// The client's context: a client that goes away cancels the upstream
	// request and with it any stream.
	out, err := http.NewRequestWithContext(r.Context(), r.Method, ep.URL.String(), body)
	if err != nil {
		return nil, fmt.Errorf("building upstream request: %w", err)
	}
	drop := dropRequestHeaders
	if req.era == mcp.EraModern {
		drop = dropModernRequestHeaders
	}
	copyHeaders(out.Header, r.Header, drop)
	setForwarded(out.Header, r)
	setCaller(out.Header, r)
	if upstreamSID != "" {
		out.Header.Set(api.HeaderSessionID, upstreamSID)
	}
	if p.Credentials != nil {
		// Set, not added: a caller cannot smuggle its own value next to
		// the one the operator configured.
		for k, v := range p.Credentials.Headers(req.ns, req.server, req.scope.Subject) {
			out.Header[k] = v
		}
	}
	return out, nil
}

// setCaller states who the caller is, as this gateway authenticated them
// (user and groups, never the token), on every upstream request: the
// sidecar trusts it because the connection presents the gateway's client
// certificate, and keeps a process per caller by it, logs and counts it.
func setCaller(out http.Header, r *http.Request) {
	u := auth.UserFrom(r.Context())
	if u == nil {
		return
	}
	user, groups := api.EncodeCaller(api.Caller{User: u.Name, Groups: u.Groups})
	out.Set(api.HeaderCallerUser, user)
	if groups != "" {
		out.Set(api.HeaderCallerGroups, groups)
	}
}

// trackSession gives a new legacy session the gateway's id (bound to the
// pod) and keeps the count of sessions per pod. A 2026-07-28 request has no
// session: an id the pod sent anyway is neither minted nor echoed.
func (p *Proxy) trackSession(w http.ResponseWriter, r *http.Request, req *request, ep *discovery.Endpoint, resp *http.Response, hasSession bool) {
	if req.era == mcp.EraModern {
		return
	}
	sid := resp.Header.Get(api.HeaderSessionID)
	if sid != "" {
		w.Header().Set(api.HeaderSessionID, p.Codec.Encode(req.scope, session.Ref{PodUID: ep.UID, Upstream: sid}))
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	switch {
	case hasSession && resp.StatusCode == http.StatusNotFound: // expired or forgotten by the pod
		p.Metrics.LostSessions.WithLabelValues(req.label, "upstream").Inc()
		if r.Method != http.MethodGet { // a GET stream's 404 comes with a POST's
			ep.SessionEnded()
		}
	case req.initialize && ok && sid != "":
		ep.SessionStarted()
	case r.Method == http.MethodDelete && hasSession && ok:
		ep.SessionEnded()
	}
}

// toolFilterFor returns the allow-list of a successful answer, else nil.
// The same filter runs in the pod's sidecar; here it also covers pods
// injected before the sidecar had one.
func toolFilterFor(ep *discovery.Endpoint, resp *http.Response) *toolfilter.Policy {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil
	}
	return ep.Tools
}

// copyBody writes the pod's status and body: an event stream event by
// event (a subscriptions/listen stream stays open until either side ends
// it), JSON through the tool filter when one is active, anything else as
// it comes.
func copyBody(w http.ResponseWriter, resp *http.Response, filter *toolfilter.Policy) error {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case mt == "text/event-stream":
		w.Header().Del("Content-Length")
		w.WriteHeader(resp.StatusCode)
		return toolfilter.CopySSE(w, resp.Body, filter)
	case filter.Active() && strings.HasSuffix(mt, "json"):
		data, err := io.ReadAll(io.LimitReader(resp.Body, toolfilter.MaxFilteredBody))
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return err
		}
		data = filter.Body(data)
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.WriteHeader(resp.StatusCode)
		_, err = w.Write(data)
		return err
	default:
		w.WriteHeader(resp.StatusCode)
		return toolfilter.CopyBuffer(w, resp.Body)
	}
}
