package discovery

import "github.com/archestra-ai/mcp-orchestrator/api"

// A 2026-07-28 request carries no session, so the pod a caller reaches is
// chosen afresh each time. That is right for servers without per-caller
// state, and wrong for a stdio server in per-session mode, whose sidecar
// keeps one process per caller: a caller's requests must keep reaching the
// pod that holds its process, or a stateful server (a memory server, a
// multi-round request waiting for its retry) loses what it knew.
//
// Rendezvous (highest-random-weight) hashing gives every replica of the
// gateway the same answer without a shared store: each ready pod gets a
// weight from a hash of (caller, server, pod UID) and the heaviest wins.
// A new pod takes over only the callers for which it is now the heaviest
// (about 1/n of them); a pod that goes away hands over only its own
// callers, each to its next-heaviest pod; nobody else moves.

// PickForCaller returns the pod a sessionless (2026-07-28) request of
// caller should go to, skipping the UIDs in exclude: the caller's own pod
// by rendezvous hashing among the ready per-session stdio pods when the
// server has any, else the least loaded pod as Pick does. nil: none.
func (r *Registry) PickForCaller(namespace, server, caller string, exclude map[string]bool) *Endpoint {
	r.mu.RLock()
	list := r.byServer[namespace+"/"+server]
	r.mu.RUnlock()
	if e := rendezvous(caller, list, exclude); e != nil {
		return e
	}
	return r.Pick(namespace, server, exclude)
}

// PerCaller reports whether the pod keeps state per caller (a stdio server
// with one process per session), which sessionless requests must respect.
func (e *Endpoint) PerCaller() bool {
	return e.Transport == api.TransportStdio && e.SessionMode == api.SessionsPerSession
}

// rendezvous returns the heaviest routable per-caller pod of list for
// caller, or nil when list has none. During a rollout that changes the
// session mode, only the per-caller pods take part: callers keep them
// until they are gone.
func rendezvous(caller string, list []*Endpoint, exclude map[string]bool) *Endpoint {
	var best *Endpoint
	var bestWeight uint64
	seed := hashString(fnvOffset, caller)
	for _, e := range list {
		if !e.takesNew() || exclude[e.UID] || !e.PerCaller() {
			continue
		}
		if w := weight(seed, e); best == nil || w > bestWeight || (w == bestWeight && e.UID < best.UID) {
			best, bestWeight = e, w
		}
	}
	return best
}

// weight is e's score for the caller whose hash is seed. The server's key
// is part of it so one caller's pods of different servers are independent
// choices. FNV-1a is stable across processes and versions (every replica
// must agree); its last bytes mix poorly, so a finalizer spreads them.
func weight(seed uint64, e *Endpoint) uint64 {
	h := hashString(seed, "\x00")
	h = hashString(h, e.Namespace)
	h = hashString(h, "/")
	h = hashString(h, e.Server)
	h = hashString(h, "\x00")
	return mix64(hashString(h, e.UID))
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// mix64 is the 64-bit finalizer of MurmurHash3: every input bit affects
// every output bit.
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
