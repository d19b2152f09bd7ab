package credentials

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func secret(name, server, subject string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name,
		Labels: map[string]string{api.CredentialsForLabel: server}, Annotations: map[string]string{api.CredentialsSubjectAnnot: subject}}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func TestStore(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset()
	s, err := NewStore(client, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	s.Start(ctx)
	require.True(t, s.WaitForSync(ctx))

	secrets := client.CoreV1().Secrets("ns")
	_, err = secrets.Create(ctx, secret("alice-gh", "github", "alice", map[string]string{
		"Authorization": "Bearer alice-gh", "x-team": "a",
		"mcp-session-id": "hijack", "Host": "evil", "X-Bad": "a\r\nInjected: 1", "dotted.key": "x",
	}), metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = secrets.Create(ctx, secret("no-subject", "github", "", map[string]string{"Authorization": "x"}), metav1.CreateOptions{})
	require.NoError(t, err)

	require.Eventually(t, func() bool { return s.Headers("ns", "github", "alice") != nil }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, http.Header{"Authorization": {"Bearer alice-gh"}, "X-Team": {"a"}}, s.Headers("ns", "github", "alice"),
		"reserved, invalid and multi-line headers are dropped")
	assert.Nil(t, s.Headers("ns", "github", "bob"))
	assert.Nil(t, s.Headers("ns", "gitlab", "alice"), "for the named server only")
	assert.Nil(t, s.Headers("other", "github", "alice"), "for the Secret's namespace only")
	assert.Nil(t, s.Headers("ns", "github", ""), "no credentials without a subject")

	// Moving the Secret to another subject takes the old one's away.
	moved := secret("alice-gh", "github", "bob", map[string]string{"Authorization": "Bearer bob"})
	_, err = secrets.Update(ctx, moved, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return s.Headers("ns", "github", "bob") != nil }, 5*time.Second, 5*time.Millisecond)
	assert.Nil(t, s.Headers("ns", "github", "alice"))

	require.NoError(t, secrets.Delete(ctx, "alice-gh", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool { return s.Headers("ns", "github", "bob") == nil }, 5*time.Second, 5*time.Millisecond)
}
