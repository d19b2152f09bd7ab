package stdio

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// The requestState of an InputRequiredResult is attacker-controlled input
// on the retry (mrtr.mdx): it is signed with a key this sidecar process
// made at start and names the instance, so a retry with a tampered state,
// another caller's or another request's, an expired one, or one that
// reached another pod (or a restarted one) is refused with a clear error.

// stateClaims is what a requestState binds.
type stateClaims struct {
	Instance string `json:"i"`
	Handle   string `json:"h"` // the parked exchange
	Caller   string `json:"c"` // digest of the process key
	Method   string `json:"m"`
	Name     string `json:"n"`
	Round    int    `json:"r"` // differs between rounds of one request
	Expires  int64  `json:"e"`
}

// stateSigner signs and verifies requestStates.
type stateSigner struct {
	instance string
	key      []byte
	now      func() time.Time
}

func newStateSigner() *stateSigner {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &stateSigner{instance: newHandle(), key: key, now: time.Now}
}

// newHandle is a random identifier.
func newHandle() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *stateSigner) mac(payload string) string {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// sign returns "<instance>.<payload>.<mac>".
func (s *stateSigner) sign(c stateClaims) string {
	c.Instance = s.instance
	b, _ := json.Marshal(c)
	head := s.instance + "." + base64.RawURLEncoding.EncodeToString(b)
	return head + "." + s.mac(head)
}

func (s *stateSigner) verify(state string) (stateClaims, *mcp.Violation) {
	var c stateClaims
	parts := strings.Split(state, ".")
	if len(parts) != 3 {
		return c, invalidState("requestState is not one this server issued")
	}
	if parts[0] != s.instance {
		return c, invalidState("requestState was issued by another instance of this MCP server (it restarted, or the retry reached another replica): repeat the original request without requestState")
	}
	head := parts[0] + "." + parts[1]
	if !hmac.Equal([]byte(s.mac(head)), []byte(parts[2])) {
		return c, invalidState("requestState failed verification")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(b, &c) != nil {
		return c, invalidState("requestState failed verification")
	}
	if s.now().Unix() > c.Expires {
		return c, invalidState("requestState has expired: repeat the original request without requestState")
	}
	return c, nil
}

// shortHash is a log-safe digest (caller names may be personal data).
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}
