package api

import (
	"crypto/sha256"
	"encoding/hex"
)

// shortHash is the 12-hex-digit digest the injector's record uses for a
// string ("string:" prefix, first 6 bytes of SHA-256): names derived from it
// must stay the same across versions, or existing Secrets would be orphaned.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte("string:" + s))
	return hex.EncodeToString(sum[:6])
}
