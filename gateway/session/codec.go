// Package session encodes the Mcp-Session-Id the gateway hands to clients.
//
// The id carries the pod that holds the session and the session id of the
// MCP server on that pod, authenticated with an HMAC key shared by every
// gateway replica. Any replica can therefore route any session without a
// shared store, and a client cannot steer its session to another pod or
// server: the MAC also covers the namespace and server of the URL and the
// authenticated caller, so an id minted for one server or caller is unknown
// to every other.
package session

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"os"
	"strings"
	"sync"
)

// version is the first byte of every payload, so the format can change
// without old ids being misread.
const version byte = 1

// macLen is the truncated HMAC-SHA256 length: 128 bits is plenty against
// forgery and keeps ids short.
const macLen = 16

// MinKeyLen is the shortest accepted key (256 bits).
const MinKeyLen = 32

// maxField bounds each decoded field; session ids are small and anything
// larger is not ours.
const maxField = 512

// ErrInvalid is returned for any id that is not one this gateway family
// minted for the given server: malformed, tampered, or signed with an
// unknown key. Callers answer it with 404, as the MCP spec asks for an
// unknown session.
var ErrInvalid = errors.New("invalid session id")

// Scope is what a session id is bound to: the server of the URL and the
// authenticated caller. An id presented with any other scope is unknown,
// so a session id that leaks to another caller (or is replayed against
// another server) is useless.
type Scope struct {
	Namespace string
	Server    string
	// Subject is the caller's user name ("" when auth is off).
	Subject string
}

// Ref is what a session id says.
type Ref struct {
	// PodUID identifies the pod holding the session. A UID (not the IP)
	// because an IP is reused by a later pod that never saw the session.
	PodUID string
	// Upstream is the Mcp-Session-Id the MCP server on that pod issued.
	Upstream string
}

// Codec mints and checks session ids. It is safe for concurrent use.
type Codec struct {
	// keys[0] signs; every key verifies, so a key can be rotated by
	// prepending the new one, rolling all replicas, then dropping the old.
	keys [][]byte
	// macs[i] recycles HMAC states of keys[i]: every request of a session
	// verifies its id, and a new HMAC costs a handful of allocations.
	macs []*sync.Pool
}

// strictBase64 refuses stray trailing bits.
var strictBase64 = base64.RawURLEncoding.Strict()

// macState is an HMAC of one key and the buffer its input is put
// together in.
type macState struct {
	h   hash.Hash
	buf []byte
}

// NewCodec returns a codec that signs with keys[0] and accepts ids signed
// by any of keys.
func NewCodec(keys ...[]byte) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("no session key")
	}
	c := &Codec{}
	for i, k := range keys {
		if len(k) < MinKeyLen {
			return nil, fmt.Errorf("session key %d is %d bytes, need at least %d", i+1, len(k), MinKeyLen)
		}
		key := bytes.Clone(k)
		c.keys = append(c.keys, key)
		c.macs = append(c.macs, &sync.Pool{New: func() any { return &macState{h: hmac.New(sha256.New, key)} }})
	}
	return c, nil
}

// LoadKeyFile reads one key per non-empty line (comments start with #);
// the first line signs. A Secret mounted as a file fits this directly.
func LoadKeyFile(path string) (*Codec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading session key file: %w", err)
	}
	var keys [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		keys = append(keys, []byte(line))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading session key file: %w", err)
	}
	c, err := NewCodec(keys...)
	if err != nil {
		return nil, fmt.Errorf("session key file %s: %w", path, err)
	}
	return c, nil
}

// Encode returns the client-facing session id for ref in scope.
// The result is base64url without padding: visible ASCII, as the MCP spec
// requires of Mcp-Session-Id.
func (c *Codec) Encode(scope Scope, ref Ref) string {
	payload := make([]byte, 0, 1+len(ref.PodUID)+len(ref.Upstream)+4)
	payload = append(payload, version)
	payload = binary.AppendUvarint(payload, uint64(len(ref.PodUID)))
	payload = append(payload, ref.PodUID...)
	payload = append(payload, ref.Upstream...)
	var sum [sha256.Size]byte
	out := append(payload, c.mac(0, scope, payload, sum[:0])...)
	return base64.RawURLEncoding.EncodeToString(out)
}

// Decode checks id against scope and returns what it carries.
// Every failure is ErrInvalid, so callers cannot leak which check failed.
func (c *Codec) Decode(scope Scope, id string) (Ref, error) {
	if len(id) == 0 || len(id) > 4*maxField {
		return Ref{}, ErrInvalid
	}
	// The decoder skips newlines and, unless strict, tolerates stray
	// trailing bits; only the canonical form is ours, so one session cannot
	// have several ids.
	if strings.ContainsAny(id, "\r\n") {
		return Ref{}, ErrInvalid
	}
	raw, err := strictBase64.DecodeString(id)
	if err != nil || len(raw) < 1+1+macLen {
		return Ref{}, ErrInvalid
	}
	payload, sum := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	ok := false
	var mine [sha256.Size]byte
	for i := range c.keys {
		if hmac.Equal(sum, c.mac(i, scope, payload, mine[:0])) {
			ok = true
			break
		}
	}
	if !ok || payload[0] != version {
		return Ref{}, ErrInvalid
	}
	rest := payload[1:]
	n, w := binary.Uvarint(rest)
	if w <= 0 || n > maxField || uint64(len(rest)-w) < n {
		return Ref{}, ErrInvalid
	}
	rest = rest[w:]
	ref := Ref{PodUID: string(rest[:n]), Upstream: string(rest[n:])}
	if ref.PodUID == "" || len(ref.Upstream) > maxField {
		return Ref{}, ErrInvalid
	}
	return ref, nil
}

// mac binds the payload to its scope with keys[key], appending the MAC to
// out. Each scope field is length-prefixed so no two scopes feed the same
// bytes.
func (c *Codec) mac(key int, scope Scope, payload, out []byte) []byte {
	st := c.macs[key].Get().(*macState)
	defer c.macs[key].Put(st)
	b := append(st.buf[:0], "mcp-gateway-session\x00"...)
	for _, f := range []string{scope.Namespace, scope.Server, scope.Subject} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	b = append(b, payload...)
	st.buf = b
	st.h.Reset()
	st.h.Write(b)
	return st.h.Sum(out)[:len(out)+macLen]
}
