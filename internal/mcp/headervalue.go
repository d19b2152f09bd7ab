package mcp

import (
	"encoding/base64"
	"strings"
)

// EncodeHeaderValue is the inverse of [DecodeHeaderValue]: s as it is when
// it is plain visible ASCII (inner spaces and tabs allowed), else in the
// Base64 sentinel form, as the 2026-07-28 transport prescribes for mirrored
// values. A plain value that looks like a sentinel is encoded too, so it
// decodes to itself.
func EncodeHeaderValue(s string) string {
	if plainHeaderValue(s) {
		return s
	}
	return sentinelPrefix + base64.StdEncoding.EncodeToString([]byte(s)) + sentinelSuffix
}

func plainHeaderValue(s string) bool {
	if s == "" {
		return true
	}
	if s[0] == ' ' || s[0] == '\t' || s[len(s)-1] == ' ' || s[len(s)-1] == '\t' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '\t' && (c < 0x20 || c > 0x7e) {
			return false
		}
	}
	return !(strings.HasPrefix(s, sentinelPrefix) && strings.HasSuffix(s, sentinelSuffix))
}
