package injector

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
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
		"window":   "hibernation: {minWindow: soon}\n",
		"negative": "hibernation: {minWindow: -1s}\n",
		// Each would fail every MCP pod, not the webhook's start.
		"pull policy":  "sidecar: {imagePullPolicy: Sometimes}\n",
		"idle timeout": "sidecar: {idleTimeout: 30 minutes}\n",
		"warm pool":    "sidecar: {warmPool: -1}\n",
		"max procs":    "sidecar: {maxProcs: -1}\n",
	} {
		path := dir + "/" + name
		require.NoError(t, writeFile(path, body))
		_, err := LoadConfig(path)
		assert.Error(t, err, name)
	}
	_, err = LoadConfig(dir + "/missing")
	assert.ErrorContains(t, err, "reading config")
}

// The hibernate-after floor is the platform's: 2m unless its config lowers
// it, and an unset hibernation section leaves the config hash as it was (no
// re-injection on upgrade).
func TestHibernateAfterFloor(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig("testdata/config.yaml")
	require.NoError(t, err)
	assert.Equal(t, 2*time.Minute, cfg.MinHibernateAfter())
	before := cfg.Hash()
	dep := func(v string) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "s", Labels: map[string]string{api.ServerLabel: "s"},
				Annotations: map[string]string{api.AnnCommand: "server", api.AnnHibernateAfter: v}},
			Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "server"}}}}},
		}
	}
	for _, tt := range []struct {
		floor, value, err string
	}{
		{value: "2m"}, {value: "off"}, {value: "119s", err: "at least 2m0s"}, {value: "10", err: "must be a duration"},
		{floor: "1s", value: "5s"}, {floor: "1s", value: "500ms", err: "at least 1s"},
	} {
		c := cfg
		c.Hibernation.MinWindow = tt.floor
		_, errs := New(c).Validate(dep(tt.value))
		if tt.err == "" {
			assert.Empty(t, errs, "%+v", tt)
		} else {
			require.Len(t, errs, 1, "%+v", tt)
			assert.ErrorContains(t, errs[0], tt.err)
			assert.Contains(t, errs[0].Error(), api.AnnHibernateAfter)
		}
	}
	assert.Equal(t, before, cfg.Hash())
	cfg.Hibernation.MinWindow = "1s"
	assert.NotEqual(t, before, cfg.Hash())
}
