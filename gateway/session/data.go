package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
)

// MaxData bounds what SealData carries: the id goes in a header.
const MaxData = 2048

// dataVersion starts a sealed payload (version is the session Ref's).
const dataVersion byte = 2

// SealData returns an id carrying data, bound to scope and to a domain of
// its own (an id minted for one purpose never reads as another's, nor as
// a Ref), signed with the first key. Like Encode, it is base64url.
func (c *Codec) SealData(domain string, scope Scope, data []byte) string {
	payload := append([]byte{dataVersion}, data...)
	return base64.RawURLEncoding.EncodeToString(append(payload, c.dataMAC(c.keys[0], domain, scope, payload)...))
}

// OpenData checks id against domain and scope and returns its data. Every
// failure is ErrInvalid.
func (c *Codec) OpenData(domain string, scope Scope, id string) ([]byte, error) {
	if len(id) == 0 || len(id) > 2*MaxData {
		return nil, ErrInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) < 1+macLen || len(raw) > 1+MaxData+macLen || base64.RawURLEncoding.EncodeToString(raw) != id {
		return nil, ErrInvalid
	}
	payload, sum := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	for _, k := range c.keys {
		if hmac.Equal(sum, c.dataMAC(k, domain, scope, payload)) && payload[0] == dataVersion {
			return payload[1:], nil
		}
	}
	return nil, ErrInvalid
}

// Tag is a MAC of parts under domain (base64url): values the gateway hands
// out and must recognise as its own when they come back.
func (c *Codec) Tag(domain string, parts ...string) string {
	return base64.RawURLEncoding.EncodeToString(c.dataMAC(c.keys[0], domain, Scope{}, []byte(joinLen(parts))))
}

// CheckTag reports whether tag is Tag(domain, parts...) under any key.
func (c *Codec) CheckTag(tag, domain string, parts ...string) bool {
	sum, err := base64.RawURLEncoding.DecodeString(tag)
	if err != nil {
		return false
	}
	for _, k := range c.keys {
		if hmac.Equal(sum, c.dataMAC(k, domain, Scope{}, []byte(joinLen(parts)))) {
			return true
		}
	}
	return false
}

func joinLen(parts []string) string {
	var b []byte
	for _, p := range parts {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return string(b)
}

func (c *Codec) dataMAC(key []byte, domain string, scope Scope, payload []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("mcp-gateway-data\x00"))
	for _, f := range []string{domain, scope.Namespace, scope.Server, scope.Subject} {
		h.Write(binary.AppendUvarint(nil, uint64(len(f))))
		h.Write([]byte(f))
	}
	h.Write(payload)
	return h.Sum(nil)[:macLen]
}
