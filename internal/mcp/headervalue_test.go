package mcp

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEncodeHeaderValue(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"us-west1", "us-west1"},
		{"system:serviceaccount:ns:agent", "system:serviceaccount:ns:agent"},
		{"inner space", "inner space"},
		{"", ""},
		// The spec's examples (Value Encoding).
		{"Hello, 世界", "=?base64?SGVsbG8sIOS4lueVjA==?="},
		{" padded ", "=?base64?IHBhZGRlZCA=?="},
		{"line1\nline2", "=?base64?bGluZTEKbGluZTI=?="},
		{"=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="},
	}
	for _, tt := range tests {
		got := EncodeHeaderValue(tt.in)
		assert.Equal(t, tt.want, got, tt.in)
		back, ok := DecodeHeaderValue(got)
		assert.True(t, ok, tt.in)
		assert.Equal(t, tt.in, back, "round trip")
	}
}
