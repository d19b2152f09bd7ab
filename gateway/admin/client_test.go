package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
)

func TestClient(t *testing.T) {
	t.Parallel()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "gh-1", Labels: map[string]string{api.ServerLabel: "github"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "server"}}},
	}
	_, url := newAPI(t, auth.None{}, deployment("a", "gh", "github"), deployment("b", "fs", "files"), pod)
	c := &Client{BaseURL: url + "/"}
	ctx := context.Background()

	all, err := c.List(ctx, "")
	require.NoError(t, err)
	assert.Len(t, all, 2)
	inB, err := c.List(ctx, "b")
	require.NoError(t, err)
	require.Len(t, inB, 1)
	assert.Equal(t, "files", inB[0].Name)

	st, err := c.Status(ctx, "a", "github")
	require.NoError(t, err)
	assert.Equal(t, "gh", st.Deployment)
	require.Len(t, st.Pods, 1)

	res, err := c.Restart(ctx, "a", "github")
	require.NoError(t, err)
	assert.Equal(t, RestartResult{Deployment: "gh", RestartedAt: "2026-01-02T03:04:05Z"}, *res)

	var logs strings.Builder
	require.NoError(t, c.Logs(ctx, "a", "github", LogOptions{TailLines: 3}, &logs))
	assert.Equal(t, "fake logs", logs.String())

	_, err = c.Status(ctx, "a", "nope")
	require.Error(t, err)
	assert.True(t, IsNotFound(err))
	assert.Contains(t, err.Error(), "404 Not Found: no Deployment labelled mcp.archestra.io/server=nope in namespace a")
	err = c.Logs(ctx, "a", "github", LogOptions{Pod: "other", TailLines: -1}, &logs)
	assert.True(t, IsNotFound(err), "%v", err)
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	const token = "s3cret-token-value"
	var gotAuth string
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>upstream proxy error</html>"))
	}))
	t.Cleanup(html.Close)
	_, denied := newAPI(t, denyAll{}, deployment("a", "gh", "github"))

	tests := []struct {
		name, base string
		want       string
	}{
		{"not our API", html.URL, "502 Bad Gateway: <html>upstream proxy error</html>"},
		{"forbidden", denied, "403 Forbidden: "},
		{"no scheme", "gateway.local:8080", `gateway address "gateway.local:8080": want http(s)://host[:port]`},
		{"nothing listens", "http://127.0.0.1:1", "connection refused"},
	}
	// The group returns when its parallel subtests have finished.
	t.Run("group", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				c := &Client{BaseURL: tt.base, Token: token}
				_, err := c.Status(context.Background(), "a", "github")
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.want)
				assert.NotContains(t, err.Error(), token, "the token never appears in errors")
			})
		}
	})
	assert.Equal(t, "Bearer "+token, gotAuth)
}
