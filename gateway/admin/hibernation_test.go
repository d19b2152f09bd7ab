package admin

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/hibernate"
)

// fakeHibernation records the calls and answers what the test says.
type fakeHibernation struct {
	calls []string
	rec   *api.Hibernation
	err   error
}

func (f *fakeHibernation) Window(d *appsv1.Deployment) time.Duration {
	if d.Annotations[api.AnnHibernateAfter] == "30m" {
		return 30 * time.Minute
	}
	return 0
}

func (f *fakeHibernation) WakeNow(_ context.Context, ns, server, by string) (*api.Hibernation, error) {
	f.calls = append(f.calls, "wake "+ns+"/"+server+" by "+by)
	return f.rec, f.err
}

func (f *fakeHibernation) HibernateNow(_ context.Context, ns, server, by string) (*api.Hibernation, error) {
	f.calls = append(f.calls, "hibernate "+ns+"/"+server+" by "+by)
	return f.rec, f.err
}

func hibernationAPI(t *testing.T, h Hibernation, objs ...*appsv1.Deployment) string {
	t.Helper()
	client := fake.NewClientset()
	for _, d := range objs {
		_, err := client.AppsV1().Deployments(d.Namespace).Create(context.Background(), d, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := &API{Client: client, Guard: &auth.Guard{Auth: auth.None{}, Log: log}, Log: log, Now: func() time.Time { return now }, Hibernation: h}
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestHibernationStatus(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sleeping := deployment("a", "gh", "github")
	sleeping.Annotations = map[string]string{api.AnnHibernateAfter: "30m", api.AnnHibernation: api.EncodeHibernation(api.Hibernation{
		State: api.HibernationHibernated, Replicas: 2, Since: since, Cause: api.CauseIdle, Reason: "no MCP traffic for 30m"})}
	awake := deployment("a", "fs", "files")
	awake.Annotations = map[string]string{api.AnnHibernateAfter: "30m"}
	broken := deployment("a", "x", "broken")
	broken.Annotations = map[string]string{api.AnnHibernation: "{"}
	url := hibernationAPI(t, &fakeHibernation{}, sleeping, awake, broken, deployment("a", "off", "plain"))

	var list []ServerSummary
	require.Equal(t, http.StatusOK, get(t, http.MethodGet, url+"/api/v1/servers", &list))
	got := map[string]*HibernationStatus{}
	for _, s := range list {
		got[s.Name] = s.Hibernation
	}
	assert.Equal(t, &HibernationStatus{State: "Hibernated", Since: "2026-03-01T12:00:00Z", Reason: "no MCP traffic for 30m", Replicas: 2, After: "30m"}, got["github"])
	assert.Equal(t, &HibernationStatus{State: "Awake", After: "30m"}, got["files"])
	assert.Equal(t, "Unknown", got["broken"].State)
	assert.Equal(t, "off", got["broken"].After)
	assert.Nil(t, got["plain"], "hibernation off and no record: nothing to show")
}

func TestWakeAndHibernateEndpoints(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f := &fakeHibernation{rec: &api.Hibernation{State: api.HibernationWaking, Replicas: 2, Since: since, Reason: "woken by an operator"}}
	url := hibernationAPI(t, f, deployment("a", "gh", "github"))
	var res HibernationResult
	require.Equal(t, http.StatusOK, get(t, http.MethodPost, url+"/api/v1/namespaces/a/servers/github/wake", &res))
	assert.Equal(t, HibernationResult{Deployment: "gh", Hibernation: &HibernationStatus{State: "Waking", Since: "2026-03-01T12:00:00Z",
		Reason: "woken by an operator", Replicas: 2, After: "off"}}, res)
	require.Equal(t, http.StatusOK, get(t, http.MethodPost, url+"/api/v1/namespaces/a/servers/github/hibernate", &res))
	assert.Equal(t, []string{"wake a/github by system:anonymous", "hibernate a/github by system:anonymous"}, f.calls)

	var e map[string]string
	for err, status := range map[error]int{
		fmt.Errorf("%w: an HPA", hibernate.ErrRefused):                    http.StatusConflict,
		fmt.Errorf("%w: scaled to 0 by hand", hibernate.ErrNotHibernated): http.StatusConflict,
		hibernate.ErrNotFound: http.StatusNotFound,
	} {
		f.err = err
		assert.Equal(t, status, get(t, http.MethodPost, url+"/api/v1/namespaces/a/servers/github/hibernate", &e))
		assert.Equal(t, err.Error(), e["error"])
	}
	assert.Equal(t, http.StatusNotFound, get(t, http.MethodPost, url+"/api/v1/namespaces/a/servers/nope/wake", &e))

	off := hibernationAPI(t, nil, deployment("a", "gh", "github"))
	assert.Equal(t, http.StatusNotImplemented, get(t, http.MethodPost, off+"/api/v1/namespaces/a/servers/github/wake", &e))
}

func TestWakeNeedsItsVerb(t *testing.T) {
	t.Parallel()
	_, url := newAPI(t, denyAll{}, deployment("a", "gh", "github"))
	var e map[string]string
	assert.Equal(t, http.StatusForbidden, get(t, http.MethodPost, url+"/api/v1/namespaces/a/servers/github/wake", &e))
	assert.Contains(t, e["error"], "may not update servers/wake.mcp.archestra.io github")
	assert.Equal(t, http.StatusForbidden, get(t, http.MethodPost, url+"/api/v1/namespaces/a/servers/github/hibernate", &e))
	assert.Contains(t, e["error"], "servers/hibernate.mcp.archestra.io")
}
