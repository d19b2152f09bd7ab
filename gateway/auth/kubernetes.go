package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// reviewTimeout bounds a TokenReview or SubjectAccessReview: a slow API
// server must fail requests (503), not hang them.
const reviewTimeout = 5 * time.Second

// Kubernetes checks tokens with TokenReview and permissions with
// SubjectAccessReview, so plain RBAC Roles on servers.mcp.archestra.io
// grant access per server. Answers are cached for TTL (denials and
// invalid tokens for a shorter time, so a fresh RoleBinding applies soon).
type Kubernetes struct {
	client    kubernetes.Interface
	audiences []string
	ttl       time.Duration
	denyTTL   time.Duration

	users     *memo[*User] // key: sha256 of the token; nil user = invalid
	decisions *memo[bool]
}

// NewKubernetes returns the kubernetes mode. audiences, if set, are the
// token audiences TokenReview must accept. ttl 0 disables caching.
func NewKubernetes(client kubernetes.Interface, audiences []string, ttl time.Duration) *Kubernetes {
	return &Kubernetes{
		client: client, audiences: audiences, ttl: ttl, denyTTL: ttl / 2,
		users: newMemo[*User](10000), decisions: newMemo[bool](10000),
	}
}

// Authenticate implements Authorizer.
func (k *Kubernetes) Authenticate(ctx context.Context, token string) (*User, error) {
	if token == "" {
		return nil, ErrUnauthenticated
	}
	// Cache by hash: the cache must not hold usable tokens.
	sum := sha256.Sum256([]byte(token))
	u, err := k.users.get(ctx, hex.EncodeToString(sum[:]), reviewTimeout, func(ctx context.Context) (*User, time.Duration, error) {
		return k.review(ctx, token)
	})
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, ErrUnauthenticated
	}
	return u, nil
}

// review asks the API server who the token belongs to: nil for an invalid
// token (kept for the shorter TTL).
func (k *Kubernetes) review(ctx context.Context, token string) (*User, time.Duration, error) {
	tr, err := k.client.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{
		Spec: authnv1.TokenReviewSpec{Token: token, Audiences: k.audiences},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("token review: %w", err)
	}
	if !tr.Status.Authenticated {
		return nil, k.denyTTL, nil
	}
	u := &User{Name: tr.Status.User.Username, UID: tr.Status.User.UID, Groups: tr.Status.User.Groups}
	if len(tr.Status.User.Extra) > 0 {
		u.Extra = map[string][]string{}
		for k, v := range tr.Status.User.Extra {
			u.Extra[k] = v
		}
	}
	return u, k.ttl, nil
}

// Authorize implements Authorizer.
func (k *Kubernetes) Authorize(ctx context.Context, u *User, a Attributes) (bool, error) {
	return k.decisions.get(ctx, decisionKey(u, a), reviewTimeout, func(ctx context.Context) (bool, time.Duration, error) {
		return k.accessReview(ctx, u, a)
	})
}

// accessReview asks the API server whether u may do a.
func (k *Kubernetes) accessReview(ctx context.Context, u *User, a Attributes) (bool, time.Duration, error) {
	extra := map[string]authzv1.ExtraValue{}
	for k, v := range u.Extra {
		extra[k] = v
	}
	sar, err := k.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{
		Spec: authzv1.SubjectAccessReviewSpec{
			User: u.Name, UID: u.UID, Groups: u.Groups, Extra: extra,
			ResourceAttributes: &authzv1.ResourceAttributes{
				Namespace: a.Namespace, Verb: a.Verb, Group: api.RBACGroup, Resource: api.RBACResource,
				Subresource: a.Subresource, Name: a.Name,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, 0, fmt.Errorf("subject access review: %w", err)
	}
	if !sar.Status.Allowed {
		return false, k.denyTTL, nil
	}
	return true, k.ttl, nil
}

func decisionKey(u *User, a Attributes) string {
	groups := slices.Clone(u.Groups)
	slices.Sort(groups)
	var b strings.Builder
	for _, s := range []string{u.Name, u.UID, strings.Join(groups, ","), a.Verb, a.Namespace, a.Name, a.Subresource} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	extraKeys := make([]string, 0, len(u.Extra))
	for k := range u.Extra {
		extraKeys = append(extraKeys, k)
	}
	slices.Sort(extraKeys)
	for _, k := range extraKeys {
		b.WriteString(k + "=" + strings.Join(u.Extra[k], ",") + "\x00")
	}
	return b.String()
}
