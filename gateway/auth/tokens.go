package auth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// Tokens authorizes static bearer tokens listed, hashed, in a file, for
// clients outside the cluster. One token per line:
//
//	<name> sha256:<hex of sha256(token)> <grant>[,<grant>...]
//
// A grant "namespace/server" allows MCP traffic to that server;
// "ops:namespace/server" allows the operator API on it (status, logs,
// restart). Either part may be "*". Lines starting with # are comments.
// Only hashes are stored, so the file is not a secret in itself.
type Tokens struct {
	byHash map[string]*tokenEntry
	byName map[string]*tokenEntry
}

type tokenEntry struct {
	name string
	use  []pattern
	ops  []pattern
}

type pattern struct{ ns, name string }

func (p pattern) match(ns, name string) bool {
	return (p.ns == "*" || p.ns == ns) && (p.name == "*" || p.name == name)
}

// HashToken returns the file form of a token's hash.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// LoadTokens reads a tokens file.
func LoadTokens(path string) (*Tokens, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading tokens file: %w", err)
	}
	t, err := ParseTokens(data)
	if err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	return t, nil
}

// ParseTokens parses the tokens file format.
func ParseTokens(data []byte) (*Tokens, error) {
	t := &Tokens{byHash: map[string]*tokenEntry{}, byName: map[string]*tokenEntry{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Fields(text)
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want <name> sha256:<hex> <grants>", line)
		}
		hash, ok := strings.CutPrefix(f[1], "sha256:")
		if b, err := hex.DecodeString(hash); !ok || err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("line %d: the token must be given as sha256:<64 hex digits>, never in clear", line)
		}
		e := &tokenEntry{name: f[0]}
		for _, g := range strings.Split(f[2], ",") {
			spec, ops := strings.CutPrefix(strings.TrimSpace(g), "ops:")
			ns, name, ok := strings.Cut(spec, "/")
			if !ok || ns == "" || name == "" {
				return nil, fmt.Errorf("line %d: grant %q: want [ops:]namespace/server", line, g)
			}
			if ops {
				e.ops = append(e.ops, pattern{ns, name})
			} else {
				e.use = append(e.use, pattern{ns, name})
			}
		}
		key := "sha256:" + strings.ToLower(hash)
		if _, dup := t.byHash[key]; dup {
			return nil, fmt.Errorf("line %d: the same token is listed twice", line)
		}
		if _, dup := t.byName[e.name]; dup {
			return nil, fmt.Errorf("line %d: the name %q is used twice", line, e.name)
		}
		t.byHash[key] = e
		t.byName[e.name] = e
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return t, nil
}

// Mode is the tokens mode: the file both authenticates and authorizes.
func (t *Tokens) Mode() Mode { return Mode{Name: "tokens", Authenticator: t, Decider: t} }

// AuthenticateToken implements Authenticator: a token not in the file is
// unknown, so a later mode may accept it.
func (t *Tokens) AuthenticateToken(_ context.Context, token string, _ Target) (*User, error) {
	e := t.byHash[HashToken(token)]
	if e == nil {
		return nil, unknown("the token is not a configured static token")
	}
	return &User{Name: "token:" + e.name, UID: e.name}, nil
}

// Decide implements Decider with the file's grants; a user of another mode
// has none.
func (t *Tokens) Decide(_ context.Context, u *User, a Attributes) (bool, error) {
	e := t.byName[u.UID]
	if e == nil {
		return false, nil
	}
	pats := e.ops
	if a.Verb == api.VerbUse {
		pats = e.use
	}
	for _, p := range pats {
		if a.Namespace == "" && a.Verb == api.VerbList {
			// The cluster-wide list needs an ops grant on every namespace.
			if p.ns == "*" && p.name == "*" {
				return true, nil
			}
			continue
		}
		if p.match(a.Namespace, a.Name) || (a.Verb == api.VerbList && (p.ns == "*" || p.ns == a.Namespace) && p.name == "*") {
			return true, nil
		}
	}
	return false, nil
}
