package admin

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
)

// API is the operators' API under /api/v1.
type API struct {
	Client kubernetes.Interface
	// Namespaces limits what is visible, as for discovery; empty: all.
	Namespaces []string
	Guard      *auth.Guard
	Log        *slog.Logger
	Now        func() time.Time
	// MaxFollow ends a followed log stream (0: one hour): each holds a
	// connection to the API server and the kubelet. Clients reconnect.
	MaxFollow time.Duration
	// Hibernation, if set, serves wake and hibernate and the servers'
	// hibernation state.
	Hibernation Hibernation
	// Virtual, if set, serves the virtual servers' state.
	Virtual VirtualServers
}

// Register adds the routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	if a.Now == nil {
		a.Now = time.Now
	}
	const p = "/api/v1"
	mux.Handle("GET "+p+"/servers", a.guard(func(r *http.Request) auth.Attributes {
		return auth.Attributes{Verb: api.VerbList, Namespace: r.URL.Query().Get("namespace")}
	}, a.list))
	mux.Handle("GET "+p+"/namespaces/{namespace}/servers", a.guard(func(r *http.Request) auth.Attributes {
		return auth.Attributes{Verb: api.VerbList, Namespace: r.PathValue("namespace")}
	}, a.list))
	mux.Handle("GET "+p+"/namespaces/{namespace}/servers/{name}", a.guard(attrs(api.VerbGet, ""), a.status))
	mux.Handle("GET "+p+"/namespaces/{namespace}/servers/{name}/logs", a.guard(attrs(api.VerbGet, api.SubLogs), a.logs))
	mux.Handle("POST "+p+"/namespaces/{namespace}/servers/{name}/restart", a.guard(attrs(api.VerbUpdate, api.SubRestart), a.restart))
	wake, hibernate := http.HandlerFunc(unavailable), http.HandlerFunc(unavailable)
	if a.Hibernation != nil {
		wake, hibernate = a.wake, a.hibernate
	}
	mux.Handle("POST "+p+"/namespaces/{namespace}/servers/{name}/wake", a.guard(attrs(api.VerbUpdate, api.SubWake), wake))
	mux.Handle("POST "+p+"/namespaces/{namespace}/servers/{name}/hibernate", a.guard(attrs(api.VerbUpdate, api.SubHibernate), hibernate))
	a.registerVirtual(mux, p)
}

func attrs(verb, sub string) func(*http.Request) auth.Attributes {
	return func(r *http.Request) auth.Attributes {
		return auth.Attributes{Verb: verb, Namespace: r.PathValue("namespace"), Name: r.PathValue("name"), Subresource: sub}
	}
}

func (a *API) guard(at func(*http.Request) auth.Attributes, h http.HandlerFunc) http.Handler {
	return a.Guard.Handler(at, writeError, h)
}

// writeError is the API's error format: {"error": "..."}.
func writeError(w http.ResponseWriter, _ *http.Request, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// apiError answers an error of the Kubernetes API: its status code for
// not-found/forbidden, 502 otherwise.
func (a *API) apiError(w http.ResponseWriter, r *http.Request, what string, err error) {
	status := http.StatusBadGateway
	switch {
	case apierrors.IsNotFound(err):
		status = http.StatusNotFound
	case apierrors.IsForbidden(err):
		status = http.StatusForbidden // the gateway's own RBAC lacks a grant
	case apierrors.IsBadRequest(err):
		// The caller's request as the API server judged it: no previous
		// container, no such container, a pod still starting.
		status = http.StatusBadRequest
	case errors.Is(err, context.Canceled):
		return
	}
	a.Log.Warn("kubernetes API call failed", "what", what, "error", err.Error())
	writeError(w, r, status, fmt.Sprintf("%s: %v", what, err))
}

func (a *API) visible(ns string) bool {
	return len(a.Namespaces) == 0 || slices.Contains(a.Namespaces, ns)
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("namespace")
	if ns == "" {
		ns = r.URL.Query().Get("namespace")
	}
	namespaces := []string{ns}
	switch {
	case ns != "" && !a.visible(ns):
		writeJSON(w, http.StatusOK, []ServerSummary{})
		return
	case ns == "" && len(a.Namespaces) > 0:
		namespaces = a.Namespaces
	}
	out := []ServerSummary{}
	for _, n := range namespaces {
		ds, err := a.Client.AppsV1().Deployments(n).List(r.Context(), metav1.ListOptions{LabelSelector: api.ServerLabel})
		if err != nil {
			a.apiError(w, r, "listing deployments", err)
			return
		}
		if len(ds.Items) == 0 {
			continue
		}
		// The pods say which of them enforce caller authentication.
		pods, err := a.Client.CoreV1().Pods(n).List(r.Context(), metav1.ListOptions{LabelSelector: api.ServerLabel})
		if err != nil {
			a.apiError(w, r, "listing pods", err)
			return
		}
		for i := range ds.Items {
			s := a.summary(&ds.Items[i])
			countPods(&s, podsIn(pods.Items, ds.Items[i].Namespace))
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	writeJSON(w, http.StatusOK, out)
}

// podsIn keeps the pods of namespace ns (a list across all namespaces, as
// the cluster-wide list makes, holds others).
func podsIn(pods []corev1.Pod, ns string) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range pods {
		if p.Namespace == ns {
			out = append(out, p)
		}
	}
	return out
}

// deployment finds the Deployment of ns/name by its server label.
func (a *API) deployment(w http.ResponseWriter, r *http.Request) (*appsv1.Deployment, bool) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	if !a.visible(ns) {
		writeError(w, r, http.StatusNotFound, fmt.Sprintf("namespace %s is not served by this gateway", ns))
		return nil, false
	}
	ds, err := a.Client.AppsV1().Deployments(ns).List(r.Context(), metav1.ListOptions{LabelSelector: api.ServerLabel + "=" + name})
	if err != nil {
		a.apiError(w, r, "listing deployments", err)
		return nil, false
	}
	switch len(ds.Items) {
	case 0:
		writeError(w, r, http.StatusNotFound, fmt.Sprintf("no Deployment labelled %s=%s in namespace %s", api.ServerLabel, name, ns))
		return nil, false
	case 1:
	default:
		// Two Deployments claiming one server name is a user error; be
		// deterministic and say so.
		sort.Slice(ds.Items, func(i, j int) bool { return ds.Items[i].Name < ds.Items[j].Name })
		a.Log.Warn("several Deployments share a server name", "namespace", ns, "server", name)
	}
	return &ds.Items[0], true
}

func (a *API) pods(ctx context.Context, ns, name string) ([]corev1.Pod, error) {
	pl, err := a.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: api.ServerLabel + "=" + name})
	if err != nil {
		return nil, err
	}
	sort.Slice(pl.Items, func(i, j int) bool { return pl.Items[i].Name < pl.Items[j].Name })
	return pl.Items, nil
}

func (a *API) status(w http.ResponseWriter, r *http.Request) {
	d, ok := a.deployment(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	pods, err := a.pods(r.Context(), d.Namespace, name)
	if err != nil {
		a.apiError(w, r, "listing pods", err)
		return
	}
	// One list of the namespace's warnings instead of one per pod.
	evs, err := a.Client.CoreV1().Events(d.Namespace).List(r.Context(), metav1.ListOptions{FieldSelector: "type=" + corev1.EventTypeWarning})
	if err != nil {
		a.apiError(w, r, "listing events", err)
		return
	}
	st := ServerStatus{ServerSummary: a.summary(d), Pods: []PodStatus{}, RestartedAt: d.Spec.Template.Annotations[RestartedAtAnnotation]}
	countPods(&st.ServerSummary, pods)
	if v, ok := d.Spec.Template.Annotations[api.PodAnnAllowedTools]; ok {
		st.AllowedTools = &v
	}
	now := a.Now()
	for i := range pods {
		st.Pods = append(st.Pods, podStatus(&pods[i], evs.Items, now))
	}
	st.WarningEvents = latest(evs.Items, string(d.UID))
	writeJSON(w, http.StatusOK, st)
}

func (a *API) restart(w http.ResponseWriter, r *http.Request) {
	d, ok := a.deployment(w, r)
	if !ok {
		return
	}
	at := a.Now().UTC().Format(time.RFC3339)
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{RestartedAtAnnotation: at}},
	}}})
	if _, err := a.Client.AppsV1().Deployments(d.Namespace).Patch(r.Context(), d.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		a.apiError(w, r, "patching deployment", err)
		return
	}
	user := ""
	if u := auth.UserFrom(r.Context()); u != nil {
		user = u.Name
	}
	a.Log.Info("rollout restart", "namespace", d.Namespace, "deployment", d.Name, "user", user)
	writeJSON(w, http.StatusAccepted, RestartResult{Deployment: d.Name, RestartedAt: at})
}

// logs streams a container log of one of the server's pods: find the pod,
// read the options, open the stream, copy it.
func (a *API) logs(w http.ResponseWriter, r *http.Request) {
	pod, ok := a.logPod(w, r)
	if !ok {
		return
	}
	opts, err := logOptions(r.URL.Query(), pod)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	ctx := r.Context()
	if opts.Follow {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cmp.Or(a.MaxFollow, time.Hour))
		defer cancel()
	}
	stream, err := a.Client.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, opts).Stream(ctx)
	if err != nil {
		a.apiError(w, r, "reading logs of pod "+pod.Name, err)
		return
	}
	defer stream.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Pod", pod.Name)
	w.Header().Set("X-Container", opts.Container)
	w.WriteHeader(http.StatusOK)
	if err := copyLog(w, stream, opts.Follow); err != nil && ctx.Err() == nil {
		a.Log.Info("log stream ended", "pod", pod.Name, "error", err.Error())
	}
}

// logPod returns the pod whose log is asked for (?pod=, else a ready one),
// or answers 404.
func (a *API) logPod(w http.ResponseWriter, r *http.Request) (*corev1.Pod, bool) {
	ns, name, want := r.PathValue("namespace"), r.PathValue("name"), r.URL.Query().Get("pod")
	if !a.visible(ns) {
		writeError(w, r, http.StatusNotFound, fmt.Sprintf("namespace %s is not served by this gateway", ns))
		return nil, false
	}
	pods, err := a.pods(r.Context(), ns, name)
	if err != nil {
		a.apiError(w, r, "listing pods", err)
		return nil, false
	}
	pod := pickPod(pods, want)
	if pod == nil {
		msg := fmt.Sprintf("server %s/%s has no pod %q", ns, name, want)
		if want == "" {
			msg = fmt.Sprintf("server %s/%s has no pods", ns, name)
		}
		writeError(w, r, http.StatusNotFound, msg)
		return nil, false
	}
	return pod, true
}

// logOptions reads container, previous, follow, timestamps and tailLines.
func logOptions(q url.Values, pod *corev1.Pod) (*corev1.PodLogOptions, error) {
	opts := &corev1.PodLogOptions{Container: q.Get("container")}
	if opts.Container == "" {
		opts.Container = defaultContainer(pod)
	}
	for key, dst := range map[string]*bool{"previous": &opts.Previous, "follow": &opts.Follow, "timestamps": &opts.Timestamps} {
		if s := q.Get(key); s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return nil, fmt.Errorf("%s: not a boolean", key)
			}
			*dst = b
		}
	}
	if s := q.Get("tailLines"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, errors.New("tailLines: not a non-negative integer")
		}
		opts.TailLines = &n
	}
	return opts, nil
}

// copyLog copies the log stream, flushing after every read when it is
// followed; the end of the log is no error.
func copyLog(w http.ResponseWriter, stream io.Reader, follow bool) error {
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := stream.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil // the client went away
			}
			if follow {
				_ = rc.Flush()
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// pickPod returns the named pod, or else a ready one, or else the first.
func pickPod(pods []corev1.Pod, name string) *corev1.Pod {
	for i := range pods {
		if name != "" && pods[i].Name == name {
			return &pods[i]
		}
	}
	if name != "" || len(pods) == 0 {
		return nil
	}
	for i := range pods {
		for _, c := range pods[i].Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return &pods[i]
			}
		}
	}
	return &pods[0]
}

// defaultContainer is the MCP server's container: the one kubectl would
// pick by annotation, else the first that is not the injected sidecar.
func defaultContainer(p *corev1.Pod) string {
	if c := p.Annotations["kubectl.kubernetes.io/default-container"]; c != "" {
		return c
	}
	for _, c := range p.Spec.Containers {
		if c.Name != api.SidecarName {
			return c.Name
		}
	}
	if len(p.Spec.Containers) > 0 {
		return p.Spec.Containers[0].Name
	}
	return ""
}
