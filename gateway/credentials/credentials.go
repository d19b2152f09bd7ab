// Package credentials resolves per-caller credentials: headers the gateway
// adds to a caller's requests to one server, from a Secret that names the
// server and the caller. An MCP server can then act with each user's own
// credentials (a GitHub token per developer) while callers never see them.
//
// A Secret is a credential when it carries the label
//
//	mcp.archestra.io/credentials-for: <server>
//
// and the annotation mcp.archestra.io/subject: <user name as the gateway
// authenticates it> (for example system:serviceaccount:team-a:agent, or
// token:<name> in tokens mode). Each data key is a header name, its value
// the header value. Only Secrets in the server's own namespace count.
package credentials

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/archestra-ai/mcp-orchestrator/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// reserved headers are never set from a Secret: they carry the protocol,
// the framing or the session, which a credential must not change.
var reserved = map[string]bool{
	"Host": true, "Content-Length": true, "Content-Type": true, "Accept": true,
	"Connection": true, "Transfer-Encoding": true, "Te": true, "Upgrade": true, "Trailer": true,
	"Keep-Alive": true, "Proxy-Connection": true,
	api.HeaderSessionID: true, api.HeaderProtocolVersion: true, api.HeaderLastEventID: true,
	api.HeaderMethod: true, api.HeaderName: true, api.HeaderCallerUser: true, api.HeaderCallerGroups: true,
}

// Store holds the credential headers of every (namespace, server, subject),
// kept current by a Secret informer. It is safe for concurrent use.
type Store struct {
	log *slog.Logger

	mu    sync.RWMutex
	byKey map[string]http.Header // ns/server/subject -> headers
	keyOf map[string]string      // secret ns/name -> its key, to drop on change

	synced []cache.InformerSynced
	start  []func(<-chan struct{})
}

// NewStore watches credential Secrets in namespaces (none: all).
func NewStore(client kubernetes.Interface, namespaces []string, log *slog.Logger) (*Store, error) {
	s := &Store{log: log, byKey: map[string]http.Header{}, keyOf: map[string]string{}}
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	for _, ns := range namespaces {
		f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = api.CredentialsForLabel }))
		inf := f.Core().V1().Secrets().Informer()
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { s.upsert(obj) },
			UpdateFunc: func(_, obj any) { s.upsert(obj) },
			DeleteFunc: func(obj any) { s.remove(obj) },
		}); err != nil {
			return nil, fmt.Errorf("secret informer handler: %w", err)
		}
		s.synced = append(s.synced, inf.HasSynced)
		s.start = append(s.start, f.Start)
	}
	return s, nil
}

// Start runs the informers until ctx ends.
func (s *Store) Start(ctx context.Context) {
	for _, f := range s.start {
		f(ctx.Done())
	}
}

// HasSynced reports whether the initial lists are in.
func (s *Store) HasSynced() bool {
	for _, f := range s.synced {
		if !f() {
			return false
		}
	}
	return true
}

// WaitForSync blocks until the initial lists are in.
func (s *Store) WaitForSync(ctx context.Context) bool {
	return cache.WaitForCacheSync(ctx.Done(), s.synced...)
}

// Headers returns the headers for subject on namespace/server, or nil.
// The caller must not modify them.
func (s *Store) Headers(namespace, server, subject string) http.Header {
	if subject == "" {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byKey[key(namespace, server, subject)]
}

func key(ns, server, subject string) string { return ns + "/" + server + "/" + subject }

func (s *Store) upsert(obj any) {
	sec, ok := obj.(*corev1.Secret)
	if !ok {
		return
	}
	id := sec.Namespace + "/" + sec.Name
	server, subject := sec.Labels[api.CredentialsForLabel], strings.TrimSpace(sec.Annotations[api.CredentialsSubjectAnnot])
	h, problems := headersOf(sec)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.keyOf[id]; ok {
		delete(s.byKey, old)
		delete(s.keyOf, id)
	}
	if server == "" || subject == "" {
		s.log.Warn("credential Secret ignored: it needs the label and the subject annotation", "secret", id, "annotation", api.CredentialsSubjectAnnot)
		return
	}
	for _, p := range problems {
		// Key names only: never a value.
		s.log.Warn("credential Secret key ignored", "secret", id, "problem", p)
	}
	k := key(sec.Namespace, server, subject)
	if _, taken := s.byKey[k]; taken {
		s.log.Warn("two credential Secrets for one subject and server; the latest update wins", "secret", id, "server", server)
	}
	s.byKey[k] = h
	s.keyOf[id] = k
}

func (s *Store) remove(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	sec, ok := obj.(*corev1.Secret)
	if !ok {
		return
	}
	id := sec.Namespace + "/" + sec.Name
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.keyOf[id]; ok {
		delete(s.byKey, old)
		delete(s.keyOf, id)
	}
}

// headersOf turns the Secret's data into headers, skipping keys that are
// not header names or are reserved.
func headersOf(sec *corev1.Secret) (http.Header, []string) {
	h := http.Header{}
	var problems []string
	for k, v := range sec.Data {
		name := http.CanonicalHeaderKey(k)
		switch {
		case !validHeaderName(k):
			problems = append(problems, fmt.Sprintf("key %q is not an HTTP header name", k))
		case reserved[name]:
			problems = append(problems, fmt.Sprintf("header %s is reserved", name))
		case strings.ContainsAny(string(v), "\r\n\x00"):
			problems = append(problems, fmt.Sprintf("value of %s has a line break", name))
		default:
			h.Set(name, string(v))
		}
	}
	return h, problems
}

// validHeaderName: an RFC 7230 token (Secret keys are already restricted
// to [-._a-zA-Z0-9], so this only rules out dots and empty names).
func validHeaderName(k string) bool {
	if k == "" || len(validation.IsConfigMapKey(k)) > 0 {
		return false
	}
	return !strings.Contains(k, ".")
}
