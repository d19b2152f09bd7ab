package session

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	keyA = []byte(strings.Repeat("a", 32))
	keyB = []byte(strings.Repeat("b", 40))
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	c, err := NewCodec(keyA)
	require.NoError(t, err)
	for _, ref := range []Ref{
		{PodUID: "0b0c4e5e-1c36-4c0f-9a57-1d8d6b1f3a77", Upstream: "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
		{PodUID: "u", Upstream: ""},
		{PodUID: "u", Upstream: strings.Repeat("x", 300)},
	} {
		id := c.Encode(Scope{Namespace: "team-a", Server: "github"}, ref)
		for i := 0; i < len(id); i++ {
			require.True(t, id[i] >= 0x21 && id[i] <= 0x7e, "visible ASCII only")
		}
		got, err := c.Decode(Scope{Namespace: "team-a", Server: "github"}, id)
		require.NoError(t, err)
		assert.Equal(t, ref, got)
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	c, err := NewCodec(keyA)
	require.NoError(t, err)
	other, err := NewCodec(keyB)
	require.NoError(t, err)
	ref := Ref{PodUID: "uid-1", Upstream: "up-1"}
	good := c.Encode(Scope{Namespace: "ns", Server: "srv"}, ref)
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	flipped := append([]byte(nil), raw...)
	flipped[3] ^= 1

	tests := []struct {
		name, ns, server, id string
	}{
		{"empty", "ns", "srv", ""},
		{"not base64", "ns", "srv", "!!!"},
		{"short", "ns", "srv", "AAAA"},
		{"other server", "ns", "other", good},
		{"other namespace", "ns2", "srv", good},
		{"shifted scope", "n", "ssrv", good},
		{"tampered payload", "ns", "srv", base64.RawURLEncoding.EncodeToString(flipped)},
		{"other key", "ns", "srv", other.Encode(Scope{Namespace: "ns", Server: "srv"}, ref)},
		{"truncated", "ns", "srv", good[:len(good)-2]},
		{"huge", "ns", "srv", strings.Repeat("A", 5000)},
		// One session has one id: no other spelling of the same bytes.
		{"newline inside", "ns", "srv", good[:5] + "\n" + good[5:]},
		{"stray trailing bits", "ns", "srv", strayBits(t, c)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.Decode(Scope{Namespace: tt.ns, Server: tt.server}, tt.id)
			assert.ErrorIs(t, err, ErrInvalid)
		})
	}
}

func TestBoundToSubject(t *testing.T) {
	t.Parallel()
	c, err := NewCodec(keyA)
	require.NoError(t, err)
	alice := Scope{Namespace: "ns", Server: "srv", Subject: "alice"}
	id := c.Encode(alice, Ref{PodUID: "p", Upstream: "s"})
	_, err = c.Decode(alice, id)
	require.NoError(t, err)
	for _, other := range []string{"bob", "", "alicE"} {
		_, err = c.Decode(Scope{Namespace: "ns", Server: "srv", Subject: other}, id)
		assert.ErrorIs(t, err, ErrInvalid, "another caller cannot use alice's session")
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	old, err := NewCodec(keyA)
	require.NoError(t, err)
	rotated, err := NewCodec(keyB, keyA)
	require.NoError(t, err)
	ref := Ref{PodUID: "p", Upstream: "s"}
	got, err := rotated.Decode(Scope{Namespace: "n", Server: "s"}, old.Encode(Scope{Namespace: "n", Server: "s"}, ref))
	require.NoError(t, err, "ids signed with the old key stay valid during rotation")
	assert.Equal(t, ref, got)
	_, err = old.Decode(Scope{Namespace: "n", Server: "s"}, rotated.Encode(Scope{Namespace: "n", Server: "s"}, ref))
	assert.ErrorIs(t, err, ErrInvalid, "new key signs")
}

func TestNewCodecShortKey(t *testing.T) {
	t.Parallel()
	_, err := NewCodec([]byte("short"))
	assert.ErrorContains(t, err, "at least 32")
	_, err = NewCodec()
	assert.Error(t, err)
}

func TestLoadKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "keys")
	require.NoError(t, os.WriteFile(p, []byte("# current first\n"+string(keyB)+"\n\n"+string(keyA)+"\n"), 0o600))
	c, err := LoadKeyFile(p)
	require.NoError(t, err)
	require.Len(t, c.keys, 2)
	a, _ := NewCodec(keyA)
	_, err = c.Decode(Scope{Namespace: "n", Server: "s"}, a.Encode(Scope{Namespace: "n", Server: "s"}, Ref{PodUID: "p"}))
	assert.NoError(t, err)

	require.NoError(t, os.WriteFile(p, []byte("tooshort\n"), 0o600))
	_, err = LoadKeyFile(p)
	assert.ErrorContains(t, err, "at least")
	_, err = LoadKeyFile(filepath.Join(dir, "missing"))
	assert.Error(t, err)
}

// FuzzSessionID: Decode never panics, only accepts what Encode made (any id
// it accepts re-encodes to itself), and Encode always round-trips.
func FuzzSessionID(f *testing.F) {
	c, err := NewCodec(keyA)
	require.NoError(f, err)
	f.Add("ns", "srv", "alice", "uid", "upstream", c.Encode(Scope{Namespace: "ns", Server: "srv", Subject: "alice"}, Ref{PodUID: "uid", Upstream: "upstream"}))
	f.Add("ns", "srv", "", "", "", "AAAA")
	f.Fuzz(func(t *testing.T, ns, server, subject, uid, upstream, id string) {
		scope := Scope{Namespace: ns, Server: server, Subject: subject}
		if ref, err := c.Decode(scope, id); err == nil {
			if got := c.Encode(scope, ref); got != id {
				t.Fatalf("accepted %q but it re-encodes to %q", id, got)
			}
		}
		if uid == "" || len(uid) > maxField || len(upstream) > maxField {
			return
		}
		ref := Ref{PodUID: uid, Upstream: upstream}
		got, err := c.Decode(scope, c.Encode(scope, ref))
		if err != nil {
			t.Fatalf("round trip of %+v: %v", ref, err)
		}
		if got != ref {
			t.Fatalf("round trip: got %+v want %+v", got, ref)
		}
	})
}

// strayBits is a valid id of c with a bit set that its last character
// carries but that decodes to nothing (the lenient decoder yields the same
// bytes).
func strayBits(t *testing.T, c *Codec) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	id := c.Encode(Scope{Namespace: "ns", Server: "srv"}, Ref{PodUID: "uid-1", Upstream: "up-12"})
	require.NotZero(t, len(id)%4, "the id ends with a partial group")
	last := strings.IndexByte(alphabet, id[len(id)-1])
	out := id[:len(id)-1] + string(alphabet[last^1])
	a, errA := base64.RawURLEncoding.DecodeString(id)
	b, errB := base64.RawURLEncoding.DecodeString(out)
	require.NoError(t, errA)
	require.NoError(t, errB)
	require.Equal(t, a, b, "the lenient decoder reads both as the same bytes")
	return out
}
