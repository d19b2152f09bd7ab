package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Usage errors exit 2 before any request; the API itself is tested through
// a real gateway in test/gateway.
func TestServerCommandsUsage(t *testing.T) {
	t.Setenv(envGateway, "")
	t.Setenv(envToken, "")
	t.Setenv(envTokenFile, "")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"status"}, "no gateway address: set --gateway or MCP_GATEWAY"},
		{[]string{"status", "--gateway=http://x", "-o", "yaml"}, `-o "yaml": want table or json`},
		{[]string{"status", "a", "b", "--gateway=http://x"}, "unexpected arguments: b"},
		{[]string{"logs", "--gateway=http://x"}, "the server name is required: mcpctl logs NAME"},
		{[]string{"restart", "--gateway=http://x"}, "the server name is required: mcpctl restart NAME"},
		{[]string{"restart", "x", "--gateway=http://x", "--token-file=/nonexistent"}, "reading the token file: open /nonexistent"},
		{[]string{"status", "x", "--gateway=http://x", "--ca-file=servers_test.go"}, "CA file servers_test.go: no PEM certificate in it"},
		{[]string{"logs", "x", "--bogus"}, "flag provided but not defined: -bogus"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 2, run(tt.args, nil, &stdout, &stderr), tt.args)
		assert.Contains(t, stderr.String(), tt.want, tt.args)
		assert.Empty(t, stdout.String())
	}
}
