package auth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestParseTokens(t *testing.T) {
	t.Parallel()
	h := HashToken("s3cret")
	tests := []struct{ name, file, wantErr string }{
		{"ok", "# comment\n\nci " + h + " team-a/github,ops:team-a/*\n", ""},
		{"clear token", "ci s3cret team-a/github\n", "never in clear"},
		{"short hash", "ci sha256:abcd team-a/github\n", "never in clear"},
		{"bad grant", "ci " + h + " github\n", "want [ops:]namespace/server"},
		{"missing field", "ci " + h + "\n", "want <name>"},
		{"duplicate token", "a " + h + " n/s\nb " + h + " n/s\n", "listed twice"},
		{"duplicate name", "a " + h + " n/s\na " + HashToken("x") + " n/s\n", "used twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseTokens([]byte(tt.file))
			if tt.wantErr == "" {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, tt.wantErr)
			}
		})
	}
}

func TestTokensAuthorize(t *testing.T) {
	t.Parallel()
	tk, err := ParseTokens([]byte(
		"ci " + HashToken("ci-token") + " team-a/github,team-b/*\n" +
			"ops " + HashToken("ops-token") + " ops:team-a/*\n" +
			"root " + HashToken("root-token") + " ops:*/*\n"))
	require.NoError(t, err)
	ctx := context.Background()
	chain := Single(tk.Mode())
	_, err = chain.Authenticate(ctx, "", Target{})
	assert.ErrorIs(t, err, ErrUnauthenticated)
	_, err = chain.Authenticate(ctx, "wrong", Target{})
	assert.ErrorIs(t, err, ErrUnauthenticated)

	tests := []struct {
		token string
		a     Attributes
		want  bool
	}{
		{"ci-token", Attributes{Verb: api.VerbUse, Namespace: "team-a", Name: "github"}, true},
		{"ci-token", Attributes{Verb: api.VerbUse, Namespace: "team-a", Name: "gitlab"}, false},
		{"ci-token", Attributes{Verb: api.VerbUse, Namespace: "team-b", Name: "anything"}, true},
		{"ci-token", Attributes{Verb: api.VerbGet, Namespace: "team-a", Name: "github"}, false},
		{"ops-token", Attributes{Verb: api.VerbGet, Namespace: "team-a", Name: "github"}, true},
		{"ops-token", Attributes{Verb: api.VerbUpdate, Namespace: "team-a", Name: "x", Subresource: api.SubRestart}, true},
		{"ops-token", Attributes{Verb: api.VerbList, Namespace: "team-a"}, true},
		{"ops-token", Attributes{Verb: api.VerbList}, false},
		{"ops-token", Attributes{Verb: api.VerbUse, Namespace: "team-a", Name: "github"}, false},
		{"root-token", Attributes{Verb: api.VerbList}, true},
	}
	for _, tt := range tests {
		u, err := chain.Authenticate(ctx, tt.token, Target{})
		require.NoError(t, err)
		ok, err := chain.Authorize(ctx, u, tt.a)
		require.NoError(t, err)
		assert.Equal(t, tt.want, ok, "%s: %s", tt.token, tt.a)
	}
}

func TestKubernetesCaches(t *testing.T) {
	t.Parallel()
	client := fake.NewClientset()
	var reviews, sars atomic.Int64
	client.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		reviews.Add(1)
		tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview)
		if tr.Spec.Token == "fail" {
			return true, nil, errors.New("apiserver down")
		}
		tr.Status.Authenticated = tr.Spec.Token == "good"
		tr.Status.User = authnv1.UserInfo{Username: "system:serviceaccount:ns:sa", Groups: []string{"system:serviceaccounts"}}
		return true, tr, nil
	})
	client.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sars.Add(1)
		sar := a.(k8stesting.CreateAction).GetObject().(*authzv1.SubjectAccessReview)
		ra := sar.Spec.ResourceAttributes
		sar.Status.Allowed = ra.Group == api.RBACGroup && ra.Resource == api.RBACResource && ra.Verb == api.VerbUse && ra.Name == "github"
		return true, sar, nil
	})
	k := NewKubernetes(client, nil, time.Minute)
	ctx := context.Background()
	for range 3 {
		u, err := k.Authenticate(ctx, "good", Target{})
		require.NoError(t, err)
		assert.Equal(t, "system:serviceaccount:ns:sa", u.Name)
		ok, err := k.Authorize(ctx, u, Attributes{Verb: api.VerbUse, Namespace: "ns", Name: "github"})
		require.NoError(t, err)
		assert.True(t, ok)
		ok, err = k.Authorize(ctx, u, Attributes{Verb: api.VerbUse, Namespace: "ns", Name: "other"})
		require.NoError(t, err)
		assert.False(t, ok)
		_, err = k.Authenticate(ctx, "bad", Target{})
		assert.ErrorIs(t, err, ErrUnauthenticated)
	}
	assert.EqualValues(t, 2, reviews.Load(), "one review per token, then cached")
	assert.EqualValues(t, 2, sars.Load(), "one SAR per decision, then cached")
	_, err := k.Authenticate(ctx, "fail", Target{})
	assert.ErrorContains(t, err, "apiserver down")
	assert.NotErrorIs(t, err, ErrUnauthenticated)
	_, err = k.Authenticate(ctx, "", Target{})
	assert.ErrorIs(t, err, ErrUnauthenticated)
}

type stub struct {
	authnErr error
	allow    bool
	authzErr error
	oauth    bool
	scopes   []string
}

func (s stub) Authenticate(context.Context, string, Target) (*User, error) {
	if s.authnErr != nil {
		return nil, s.authnErr
	}
	return &User{Name: "alice", Groups: []string{"eng", "system:authenticated"}, OAuth: s.oauth, Scopes: s.scopes}, nil
}

func (s stub) Authorize(context.Context, *User, Attributes) (bool, error) { return s.allow, s.authzErr }

// The Guard's answers, as an OAuth resource server: the Bearer challenge
// points at the server's metadata; MCP SDK clients parse it.
func TestGuard(t *testing.T) {
	t.Parallel()
	res, err := NewResources([]string{"https://mcp.example.test"})
	require.NoError(t, err)
	res.AuthorizationServers = []string{"https://idp.example.test"}
	const prm = `resource_metadata="https://mcp.example.test/.well-known/oauth-protected-resource/mcp/ns/github"`
	tests := []struct {
		name      string
		auth      Authorizer
		token     string
		status    int
		contains  string
		denial    Denial
		challenge string // "" : no WWW-Authenticate
	}{
		{"allowed", stub{allow: true}, "tok", http.StatusOK, "alice", "", ""},
		{"allowed with the scope", stub{allow: true, oauth: true, scopes: []string{"openid", "mcp"}}, "tok", http.StatusOK, "alice", "", ""},
		{"scopes apply to OAuth tokens only", stub{allow: true, scopes: nil}, "tok", http.StatusOK, "alice", "", ""},
		{"none", None{}, "", http.StatusOK, "system:anonymous", "", ""},
		{"no token", stub{authnErr: ErrUnauthenticated}, "", http.StatusUnauthorized, "a valid bearer token is required", DenyUnauthenticated,
			`Bearer realm="mcp-gateway", scope="mcp", ` + prm},
		{"invalid token", stub{authnErr: refused("the token expired at X")}, "tok", http.StatusUnauthorized, "a valid bearer token is required: the token expired at X", DenyUnauthenticated,
			`Bearer realm="mcp-gateway", error="invalid_token", error_description="the token expired at X", scope="mcp", ` + prm},
		{"insufficient scope", stub{allow: true, oauth: true, scopes: []string{"openid"}}, "tok", http.StatusForbidden, "the token lacks the scope mcp", DenyScope,
			`Bearer realm="mcp-gateway", error="insufficient_scope", error_description="the token lacks the scope mcp", scope="mcp", ` + prm},
		{"forbidden", stub{}, "tok", http.StatusForbidden, `user \"alice\" may not use servers.mcp.archestra.io github in namespace ns (groups [\"eng\"])`, DenyForbidden, ""},
		{"authn error", stub{authnErr: errors.New("down")}, "tok", http.StatusServiceUnavailable, "unavailable", DenyError, ""},
		{"authz error", stub{authzErr: errors.New("down")}, "tok", http.StatusServiceUnavailable, "unavailable", DenyError, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var denied Denial
			g := &Guard{Auth: tt.auth, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Denied: func(d Denial) { denied = d },
				Resources: res, RequiredScopes: []string{"mcp"}}
			h := g.Handler(func(*http.Request) Attributes { return Attributes{Verb: api.VerbUse, Namespace: "ns", Name: "github"} },
				func(w http.ResponseWriter, _ *http.Request, status int, msg string) {
					w.WriteHeader(status)
					_ = json.NewEncoder(w).Encode(msg)
				},
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, UserFrom(r.Context()).Name) }))
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/mcp/ns/github", nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			h.ServeHTTP(rec, req)
			assert.Equal(t, tt.status, rec.Code)
			assert.Contains(t, rec.Body.String(), tt.contains)
			assert.Equal(t, tt.denial, denied)
			assert.Equal(t, tt.challenge, rec.Header().Get("WWW-Authenticate"))
			if tt.challenge != "" {
				cs, err := oauthex.ParseWWWAuthenticate(rec.Header().Values("WWW-Authenticate"))
				require.NoError(t, err, "MCP SDK clients parse the challenge")
				require.Len(t, cs, 1)
				assert.Equal(t, "https://mcp.example.test/.well-known/oauth-protected-resource/mcp/ns/github", cs[0].Params["resource_metadata"])
				assert.Equal(t, "mcp", cs[0].Params["scope"])
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	for h, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "": "", "Bearer": ""} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", h)
		assert.Equal(t, want, BearerToken(r), h)
	}
}

// Concurrent first requests with one token make one TokenReview and one
// SubjectAccessReview between them. Caching is off (TTL 0), so only the
// collapsing of calls in flight can explain a single review.
func TestKubernetesCollapsesConcurrentReviews(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		client := fake.NewClientset()
		var reviews, sars atomic.Int64
		release, releaseSAR := make(chan struct{}), make(chan struct{})
		client.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
			reviews.Add(1)
			<-release
			tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview)
			tr.Status.Authenticated = true
			tr.Status.User = authnv1.UserInfo{Username: "alice"}
			return true, tr, nil
		})
		client.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
			sars.Add(1)
			<-releaseSAR
			sar := a.(k8stesting.CreateAction).GetObject().(*authzv1.SubjectAccessReview)
			sar.Status.Allowed = true
			return true, sar, nil
		})
		k := NewKubernetes(client, nil, 0)
		const callers = 50
		results := make(chan error, callers)
		for range callers {
			go func() {
				u, err := k.Authenticate(context.Background(), "token", Target{})
				if err == nil {
					_, err = k.Authorize(context.Background(), u, Attributes{Verb: api.VerbUse, Namespace: "ns", Name: "s"})
				}
				results <- err
			}()
		}
		synctest.Wait() // every caller is blocked: one in the review, the rest waiting for it
		assert.EqualValues(t, 1, reviews.Load())
		close(release)
		synctest.Wait() // the same for the access review
		assert.EqualValues(t, 1, sars.Load())
		close(releaseSAR)
		for range callers {
			require.NoError(t, <-results)
		}
		assert.EqualValues(t, 1, reviews.Load(), "one TokenReview for 50 concurrent first requests")
		assert.EqualValues(t, 1, sars.Load(), "one SubjectAccessReview for 50 concurrent first requests")
	})
}
