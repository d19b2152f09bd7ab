package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/archestra-ai/mcp-orchestrator/gateway/admin"
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
		{[]string{"wake", "--gateway=http://x"}, "the server name is required: mcpctl wake NAME"},
		{[]string{"hibernate", "a", "b", "--gateway=http://x"}, "unexpected arguments: b"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 2, run(tt.args, nil, &stdout, &stderr), tt.args)
		assert.Contains(t, stderr.String(), tt.want, tt.args)
		assert.Empty(t, stdout.String())
	}
}

func TestHibernationColumns(t *testing.T) {
	now = func() time.Time { return time.Date(2026, 3, 1, 12, 5, 0, 0, time.UTC) }
	t.Cleanup(func() { now = time.Now })
	hibernated := &admin.HibernationStatus{State: "Hibernated", Since: "2026-03-01T12:00:00Z", Reason: "no MCP traffic for 30m", Replicas: 2, After: "30m"}
	for _, tt := range []struct {
		h            *admin.HibernationStatus
		column, line string
	}{
		{nil, "-", "off"},
		{&admin.HibernationStatus{State: "Awake", After: "30m"}, "after 30m", "Awake; hibernate-after 30m"},
		{hibernated, "Hibernated 5m0s", "Hibernated since 2026-03-01T12:00:00Z (5m0s ago): no MCP traffic for 30m; a wake restores 2; hibernate-after 30m"},
		{&admin.HibernationStatus{State: "Waking", Since: "2026-03-01T12:04:58Z", Replicas: 1, After: "off"}, "Waking 2s",
			"Waking since 2026-03-01T12:04:58Z (2s ago); a wake restores 1; hibernate-after off"},
		{&admin.HibernationStatus{State: "Unknown", Reason: "unreadable record", After: "off"}, "Unknown", "Unknown: unreadable record; hibernate-after off"},
	} {
		assert.Equal(t, tt.column, column(tt.h))
		assert.Equal(t, tt.line, describe(tt.h))
	}
}

// The list says per server whether its pods authenticate their caller,
// and how far a rollout to it has come.
func TestCallerAuthColumn(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		s    admin.ServerSummary
		want string
	}{
		{admin.ServerSummary{CallerAuth: "mtls", Pods: 2, CallerAuthPods: 2}, "mtls"},
		{admin.ServerSummary{CallerAuth: "mtls", Pods: 3, CallerAuthPods: 1}, "mtls on 1/3 pods"},
		{admin.ServerSummary{CallerAuth: "mtls", Pods: 2}, "none"},
		{admin.ServerSummary{CallerAuth: "none", Pods: 1}, "none"},
		{admin.ServerSummary{CallerAuth: "mtls"}, "mtls"},
	} {
		assert.Equal(t, tt.want, callerAuth(tt.s), "%+v", tt.s)
	}
	var out bytes.Buffer
	printList(&out, []admin.ServerSummary{{Namespace: "a", Name: "gh", Deployment: "gh", Transport: "stdio", ReadyReplicas: 1, DesiredReplicas: 2,
		CallerAuth: "mtls", Pods: 2, CallerAuthPods: 1}})
	assert.Regexp(t, `NAMESPACE\s+SERVER\s+DEPLOYMENT\s+TRANSPORT\s+READY\s+CALLER-AUTH\s+HIBERNATION\na\s+gh\s+gh\s+stdio\s+1/2\s+mtls on 1/2 pods\s+-\n`, out.String())
}
