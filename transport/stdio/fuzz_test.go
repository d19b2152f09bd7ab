package stdio

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// FuzzRequestState: the requestState of a retry is the client's to forge.
// Whatever it sends, verify never panics, refuses with -32602 and a message
// naming requestState, and accepts nothing but a state this signer issued,
// byte for byte, before it expired. What it signs verifies to the same
// claims; the same claims signed by another process (another key) and any
// one-byte change are refused.
func FuzzRequestState(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	s := &stateSigner{instance: "0123456789abcdef01234567", key: []byte("the sidecar process's own key..."), now: clock}
	restarted := &stateSigner{instance: s.instance, key: []byte("another process, the same instance"), now: clock}
	claims := stateClaims{Handle: "h1", Caller: shortHash("alice"), Method: "tools/call", Name: "elicit", Round: 1, Expires: now.Add(time.Minute).Unix()}
	f.Add(s.sign(claims), "tools/call", "elicit", 1, int64(60))
	expired := claims
	expired.Expires = now.Add(-time.Second).Unix()
	f.Add(s.sign(expired), "prompts/get", "", 2, int64(-1))
	f.Add(restarted.sign(claims), "tools/call", "名前", 0, int64(0))
	f.Add("other-instance."+strings.SplitN(s.sign(claims), ".", 2)[1], "", "", -1, int64(1<<62))
	f.Add(s.instance+"..", "resources/read", "file:///a", 3, int64(1))
	f.Add("a.b.c.d", "", "", 0, int64(0))
	f.Add("", "", "", 0, int64(0))
	f.Fuzz(func(t *testing.T, state, method, name string, round int, ttl int64) {
		c, v := s.verify(state)
		if v != nil {
			checkStateRefusal(t, v)
		} else if s.sign(c) != state || now.Unix() > c.Expires {
			t.Fatalf("accepted a state it did not issue, or an expired one: %q as %+v", state, c)
		}

		if !utf8.ValidString(method) || !utf8.ValidString(name) || ttl > 1<<40 || ttl < -1<<40 {
			return // methods and names come from decoded JSON; expiries are minutes
		}
		want := stateClaims{Handle: newHandle(), Caller: shortHash(state), Method: method, Name: name, Round: round, Expires: now.Unix() + ttl}
		signed := s.sign(want)
		got, v := s.verify(signed)
		if ttl < 0 {
			if v == nil {
				t.Fatalf("accepted an expired state %+v", got)
			}
			checkStateRefusal(t, v)
			return
		}
		want.Instance = s.instance
		if v != nil || got != want {
			t.Fatalf("signed %+v, verified %+v (%v)", want, got, v)
		}
		if _, v := restarted.verify(signed); v == nil {
			t.Fatal("accepted a state signed with another key")
		}
		i := uint(round) % uint(len(signed))
		tampered := signed[:i] + string(signed[i]^1) + signed[i+1:]
		if _, v := s.verify(tampered); v == nil {
			t.Fatalf("accepted %q, %q with byte %d changed", tampered, signed, i)
		}
	})
}

func checkStateRefusal(t *testing.T, v *mcp.Violation) {
	t.Helper()
	if v.Code != mcp.CodeInvalidParams || !strings.HasPrefix(v.Message, "Invalid params: requestState ") {
		t.Fatalf("unclear refusal %+v", v)
	}
}

// FuzzEventID: a Last-Event-ID is the client's to send. parseEventID never
// panics, accepts only ids of non-negative numbers, and what it accepts is
// the id appendEventID writes for the same numbers (leading zeros and a plus sign
// aside); what appendEventID writes parses back.
func FuzzEventID(f *testing.F) {
	for _, s := range []string{"0-0", "3-17", "-1-2", "1--2", "+1-02", "1-2-3", "99999999999999999999-1", "", "-"} {
		f.Add(s, 7, 42)
	}
	f.Fuzz(func(t *testing.T, s string, stream, seq int) {
		if x, y, ok := parseEventID(s); ok {
			if x < 0 || y < 0 {
				t.Fatalf("%q: negative %d, %d", s, x, y)
			}
			if x2, y2, ok := parseEventID(string(appendEventID(nil, x, y))); !ok || x2 != x || y2 != y {
				t.Fatalf("%q parsed as %d-%d, which does not round-trip", s, x, y)
			}
		}
		if stream < 0 || seq < 0 {
			return
		}
		if x, y, ok := parseEventID(string(appendEventID(nil, stream, seq))); !ok || x != stream || y != seq {
			t.Fatalf("appendEventID(%d, %d) = %q parses as %d, %d, %v", stream, seq, appendEventID(nil, stream, seq), x, y, ok)
		}
	})
}
