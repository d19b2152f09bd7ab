package mcp

import (
	"crypto/rand"
	"encoding/base64"
)

// NewSessionID returns a fresh, unguessable session id: 24 bytes from
// crypto/rand, base64url without padding (32 visible ASCII characters, as the
// spec requires for Mcp-Session-Id).
func NewSessionID() string {
	var b [24]byte
	// crypto/rand.Read never returns an error on supported platforms (Go 1.24+).
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ValidSessionID reports whether s only has visible ASCII (0x21-0x7E) and a
// sane length; anything else cannot be one of ours.
func ValidSessionID(s string) bool {
	if len(s) == 0 || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
