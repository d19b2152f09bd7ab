package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
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

// cacheSize bounds each cache, so a flood of distinct bad tokens cannot
// grow memory.
const cacheSize = 10000

// NewKubernetes returns the kubernetes mode alone: tokens checked with
// TokenReview, callers authorized with SubjectAccessReview. audiences, if
// set, are the token audiences TokenReview must accept. ttl 0 disables
// caching.
func NewKubernetes(client kubernetes.Interface, audiences []string, ttl time.Duration) *Chain {
	return Single(Mode{Name: "kubernetes", Authenticator: NewTokenReview(client, audiences, false, ttl), Decider: NewAccessReview(client, ttl)})
}

// TokenReview authenticates any token by asking the API server
// (TokenReview): ServiceAccount tokens of clusters that do not publish
// their issuer, and whatever else the API server accepts. Answers are
// cached for ttl (invalid tokens for half of it).
type TokenReview struct {
	client    kubernetes.Interface
	audiences []string
	resource  bool
	ttl       time.Duration
	users     *memo[*User] // key: sha256 of the token and the audiences; nil user = invalid
}

// NewTokenReview returns the TokenReview authenticator. audiences are the
// gateway-wide audiences a token may carry; with resource, the target's
// resource URLs are accepted too. With neither, the API server's own
// audiences apply (tokens meant for the API server are accepted).
func NewTokenReview(client kubernetes.Interface, audiences []string, resource bool, ttl time.Duration) *TokenReview {
	return &TokenReview{client: client, audiences: audiences, resource: resource, ttl: ttl, users: newMemo[*User](cacheSize)}
}

// AuthenticateToken implements Authenticator. A token the API server does
// not accept is unknown: a later mode may still accept it.
func (k *TokenReview) AuthenticateToken(ctx context.Context, token string, target Target) (*User, error) {
	auds := slices.Clone(k.audiences)
	if k.resource {
		auds = append(auds, target.Resources...)
	}
	// Cache by hash: the cache must not hold usable tokens.
	sum := sha256.Sum256([]byte(token))
	key := hex.EncodeToString(sum[:])
	for _, a := range auds {
		key += fmt.Sprintf("|%d:%s", len(a), a)
	}
	u, err := k.users.get(ctx, key, reviewTimeout, func(ctx context.Context) (*User, time.Duration, error) {
		return k.review(ctx, token, auds)
	})
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, unknown("the API server does not accept the token for this resource")
	}
	return u, nil
}

// review asks the API server who the token belongs to: nil for an invalid
// token (kept for the shorter TTL).
func (k *TokenReview) review(ctx context.Context, token string, audiences []string) (*User, time.Duration, error) {
	tr, err := k.client.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{
		Spec: authnv1.TokenReviewSpec{Token: token, Audiences: audiences},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, 0, fmt.Errorf("token review: %w", err)
	}
	if !tr.Status.Authenticated {
		return nil, k.ttl / 2, nil
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

// AccessReview decides with a SubjectAccessReview on servers.mcp.archestra.io,
// so plain RBAC Roles grant access per server. Decisions are cached for
// ttl, denials for half of it, so a fresh RoleBinding applies soon.
type AccessReview struct {
	client    kubernetes.Interface
	ttl       time.Duration
	decisions *memo[bool]
}

// NewAccessReview returns the SubjectAccessReview decider.
func NewAccessReview(client kubernetes.Interface, ttl time.Duration) *AccessReview {
	return &AccessReview{client: client, ttl: ttl, decisions: newMemo[bool](cacheSize)}
}

// Decide implements Decider.
func (k *AccessReview) Decide(ctx context.Context, u *User, a Attributes) (bool, error) {
	return k.decisions.get(ctx, decisionKey(u, a), reviewTimeout, func(ctx context.Context) (bool, time.Duration, error) {
		return k.review(ctx, u, a)
	})
}

// review asks the API server whether u may do a.
func (k *AccessReview) review(ctx context.Context, u *User, a Attributes) (bool, time.Duration, error) {
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
		return false, k.ttl / 2, nil
	}
	return true, k.ttl, nil
}

// decisionKey identifies a decision. Each part is length-prefixed: names
// and groups come from tokens, and no choice of them may make two users'
// keys equal.
func decisionKey(u *User, a Attributes) string {
	b := make([]byte, 0, 256)
	part := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	count := func(tag byte, n int) {
		b = append(b, tag)
		b = strconv.AppendInt(b, int64(n), 10)
	}
	for _, s := range []string{u.Name, u.UID, a.Verb, a.Namespace, a.Name, a.Subresource} {
		part(s)
	}
	groups := slices.Sorted(slices.Values(u.Groups))
	count('g', len(groups))
	for _, g := range groups {
		part(g)
	}
	count('e', len(u.Extra))
	for _, k := range slices.Sorted(maps.Keys(u.Extra)) {
		part(k)
		count('v', len(u.Extra[k]))
		for _, v := range u.Extra[k] {
			part(v)
		}
	}
	return string(b)
}
