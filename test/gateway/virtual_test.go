package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway"
	"github.com/archestra-ai/mcp-orchestrator/gateway/admin"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/mcptest"
	"github.com/archestra-ai/mcp-orchestrator/gateway/virtual"
)

// RBAC use on servers named after the virtual server is the grant: it
// reaches exactly the assigned tools, and neither a grant on the members
// reaches the virtual server nor the virtual grant the members' own
// endpoints. Real ServiceAccount tokens, SubjectAccessReviews.
func TestVirtualServerAccess(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	url, _ := startGatewayWith(t, gateway.Config{Auth: auth.NewKubernetes(client, nil, time.Second), Virtual: &virtual.Options{}})
	createDeployment(t, ns, "alpha", 1)
	createPod(t, mcptest.NewStatelessBackend(t, "alpha", false), ns, "alpha", "alpha-0", nil)
	defineVirtual(t, ns, "toolbox", "toolbox", "members:\n- server: alpha\n  tools: [echo]\n")
	agent, memberUser := serviceAccountToken(t, ns, "agent"), serviceAccountToken(t, ns, "member-user")
	grant(t, ns, "agent", rbacv1.PolicyRule{APIGroups: []string{api.RBACGroup}, Resources: []string{"servers"}, Verbs: []string{"use"}, ResourceNames: []string{"toolbox"}})
	grant(t, ns, "member-user", rbacv1.PolicyRule{APIGroups: []string{api.RBACGroup}, Resources: []string{"servers"}, Verbs: []string{"use"}, ResourceNames: []string{"alpha"}})
	ctx := context.Background()
	var cs = func(token, server string) error {
		s, err := mcptest.Connect(ctx, url+"/mcp/"+ns+"/"+server, token, nil)
		if err == nil {
			s.Close()
		}
		return err
	}
	require.Eventually(t, func() bool { return cs(agent, "toolbox") == nil }, 10*time.Second, 50*time.Millisecond)
	s, err := mcptest.Connect(ctx, url+"/mcp/"+ns+"/toolbox", agent, nil)
	require.NoError(t, err)
	defer s.Close()
	got, err := mcptest.Call(ctx, s, "alpha__echo", map[string]any{"text": "granted"})
	require.NoError(t, err)
	assert.Equal(t, "alpha: granted", got)
	_, err = mcptest.Call(ctx, s, "alpha__whoami", nil)
	assert.ErrorContains(t, err, `"alpha__whoami" is not offered by virtual server `+ns+`/toolbox`)
	assert.ErrorContains(t, cs(agent, "alpha"), "Forbidden", "the virtual grant is not the member's")
	assert.ErrorContains(t, cs(memberUser, "toolbox"), "Forbidden", "a member's grant is not the virtual server's")
	assert.NoError(t, cs(memberUser, "alpha"))
}

// The operators' API and mcpctl show virtual servers with their members'
// state; get and list on servers authorize them as for servers.
func TestVirtualServerStatus(t *testing.T) {
	t.Parallel()
	mcpctl := goBuild(t, "mcpctl")
	ns := namespace(t)
	url, _ := startGatewayWith(t, gateway.Config{Auth: auth.NewKubernetes(client, nil, time.Second), Virtual: &virtual.Options{}})
	createDeployment(t, ns, "alpha", 1)
	createPod(t, mcptest.NewStatelessBackend(t, "alpha", false), ns, "alpha", "alpha-0", nil)
	defineVirtual(t, ns, "toolbox", "toolbox", "title: Toolbox\nmembers:\n- server: alpha\n  tools: [echo, {name: whoami, as: who}]\n- server: ghost\n  prefix: gh\n")
	defineVirtual(t, ns, "broken", "broken", "members: []\n")
	operator := serviceAccountToken(t, ns, "operator")
	grant(t, ns, "operator", rbacv1.PolicyRule{APIGroups: []string{api.RBACGroup}, Resources: []string{"servers"}, Verbs: []string{"get", "list"}})
	viewer := serviceAccountToken(t, ns, "viewer")
	grant(t, ns, "viewer", rbacv1.PolicyRule{APIGroups: []string{api.RBACGroup}, Resources: []string{"servers"}, Verbs: []string{"get"}, ResourceNames: []string{"alpha"}})
	run := func(token string, args ...string) (int, string, string) {
		cmd := exec.Command(mcpctl, append(args, "-n", ns)...)
		cmd.Env = append(os.Environ(), "MCP_GATEWAY="+url, "MCP_GATEWAY_TOKEN="+token)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), stdout.String(), stderr.String()
		}
		require.NoError(t, err)
		return 0, stdout.String(), stderr.String()
	}
	require.Eventually(t, func() bool {
		_, out, _ := run(operator, "status")
		return bytes.Contains([]byte(out), []byte("broken"))
	}, 10*time.Second, 50*time.Millisecond)
	code, out, errOut := run(operator, "status")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^NAMESPACE\s+VIRTUAL SERVER\s+STATE\s+MEMBERS READY\s+ENDPOINT$`, out)
	assert.Regexp(t, `(?m)^`+ns+`\s+toolbox\s+Serving\s+1/2\s+/mcp/`+ns+`/toolbox$`, out)
	assert.Regexp(t, `(?m)^`+ns+`\s+broken\s+Invalid\s+-\s+/mcp/`+ns+`/broken$`, out)

	code, out, errOut = run(operator, "status", "toolbox")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Virtual server: "+ns+"/toolbox\n")
	assert.Regexp(t, `(?m)^alpha\s+alpha\s+Ready\s+1/1\s+alpha__echo,alpha__who\s+all\s+all\s+-$`, out)
	assert.Regexp(t, `(?m)^ghost\s+gh\s+Missing\s+0/0\s+all\s+all\s+all\s+-$`, out)
	code, out, _ = run(operator, "status", "broken", "-o", "json")
	require.Equal(t, 0, code)
	var st admin.VirtualServerStatus
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	assert.Equal(t, []string{"members: at least one member is required"}, st.Problems)

	code, _, errOut = run(viewer, "status", "toolbox")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "may not get servers.mcp.archestra.io toolbox")
	code, _, errOut = run(operator, "status", "nothing")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "404 Not Found: no Deployment labelled mcp.archestra.io/server=nothing")
}
