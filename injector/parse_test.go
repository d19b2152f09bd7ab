package injector

import (
	"strings"
	"testing"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseWords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "npx -y @modelcontextprotocol/server-everything", want: []string{"npx", "-y", "@modelcontextprotocol/server-everything"}},
		{in: `uvx mcp-server-fetch --user-agent "Archestra MCP/1.0"`, want: []string{"uvx", "mcp-server-fetch", "--user-agent", "Archestra MCP/1.0"}},
		{in: `echo 'a "b" c' "d 'e'" f\ g`, want: []string{"echo", `a "b" c`, "d 'e'", "f g"}},
		{in: `say "a \"quoted\" \$HOME \n"`, want: []string{"say", `a "quoted" $HOME \n`}},
		{in: `$HOME *.txt $(id)`, want: []string{"$HOME", "*.txt", "$(id)"}},
		{in: `empty '' ""`, want: []string{"empty", "", ""}},
		{in: "  spaced\t\tout \n ", want: []string{"spaced", "out"}},
		{in: `["node", "server.js", "--flag=a b"]`, want: []string{"node", "server.js", "--flag=a b"}},
		{in: `  ["x"]`, want: []string{"x"}},
		{in: "", wantErr: "must not be empty"},
		{in: "   ", wantErr: "must not be empty"},
		{in: "[]", wantErr: "JSON array must not be empty"},
		{in: `["a", 1]`, wantErr: "not a JSON array of strings"},
		{in: `[not json`, wantErr: "not a JSON array of strings"},
		{in: `npx "unterminated`, wantErr: `unterminated " quote`},
		{in: `npx 'unterminated`, wantErr: `unterminated ' quote`},
		{in: `npx trailing\`, wantErr: "lone backslash"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseWords(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSplitList(t *testing.T) {
	t.Parallel()
	got, err := splitList(" a, b ,c")
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c"}, got)
	for _, bad := range []string{"", " ", "a,,b", "a,", ",a"} {
		_, err := splitList(bad)
		assert.Error(t, err, "%q", bad)
	}
}

// A user who pastes a credential where a Secret reference belongs must not
// see it echoed in the denial, which kubectl prints and events may keep.
func TestErrorsNeverEchoPastedSecrets(t *testing.T) {
	t.Parallel()
	const token = "ghp_S3cr3tT0kenValue"
	for key, value := range map[string]string{
		api.AnnSecretEnv:            "GITHUB_TOKEN=" + token,
		api.AnnSecretEnvFrom:        token,
		api.AnnSecretFiles:          token,
		api.AnnImagePullSecrets:     "ok," + token,
		api.AnnRegistryCredentials:  token,
		api.AnnRequestHeadersSecret: "Bearer " + token,
		api.AnnCommand:              `npx server --token "` + token,
	} {
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			_, errs, warnings := Parse(map[string]string{api.ServerLabel: "s"}, map[string]string{key: value})
			require.NotEmpty(t, errs, "the value must be rejected")
			for _, e := range errs {
				assert.NotContains(t, e.Error(), "S3cr3t")
			}
			assert.NotContains(t, strings.Join(warnings, " "), "S3cr3t")
		})
	}
}

func TestClosestKey(t *testing.T) {
	t.Parallel()
	assert.Equal(t, api.AnnCommand, closestKey(api.Prefix+"comand"))
	assert.Equal(t, api.AnnSecretEnv, closestKey(api.Prefix+"secret_env"))
	assert.Empty(t, closestKey(api.Prefix+"something-else-entirely"))
}

func TestPlatformScheduling(t *testing.T) {
	t.Parallel()
	pod := platformPod()
	cfg := DefaultConfig().PlatformScheduling(pod)
	assert.Equal(t, pod.Spec.NodeSelector, cfg.Scheduling.NodeSelector)
	require.Len(t, cfg.Scheduling.Tolerations, 2, "the not-ready/unreachable tolerations Kubernetes adds are left out")
	assert.Equal(t, "dedicated", cfg.Scheduling.Tolerations[0].Key)
	assert.Equal(t, "node.kubernetes.io/not-ready", cfg.Scheduling.Tolerations[1].Key, "a not-ready toleration the user wrote without tolerationSeconds is kept")

	explicit := DefaultConfig()
	explicit.Scheduling.NodeSelector = map[string]string{"pool": "explicit"}
	cfg = explicit.PlatformScheduling(pod)
	assert.Equal(t, map[string]string{"pool": "explicit"}, cfg.Scheduling.NodeSelector, "explicit config wins")
	assert.Len(t, cfg.Scheduling.Tolerations, 2)
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig("testdata/config.yaml")
	require.NoError(t, err)
	assert.Equal(t, "registry.example.com/mcp/base:1.0.0", cfg.BaseImage)
	assert.Equal(t, "1Gi", cfg.Resources.Limits.StorageEphemeral().String())

	dir := t.TempDir()
	for name, body := range map[string]string{
		"typo":     "baseImge: x\n",
		"noimage":  "baseImage: ''\n",
		"relative": "home: relative\n",
	} {
		path := dir + "/" + name
		require.NoError(t, writeFile(path, body))
		_, err := LoadConfig(path)
		assert.Error(t, err, name)
	}
	_, err = LoadConfig(dir + "/missing")
	assert.ErrorContains(t, err, "reading config")
}
