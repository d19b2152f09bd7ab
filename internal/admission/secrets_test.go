package admission

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/injector"
)

// lookupMap is a fake of the one function under test's dependency.
type lookupMap struct {
	synced  bool
	secrets map[string]bool
}

func (l lookupMap) SecretExists(ns, name string) (bool, bool) {
	return l.secrets[ns+"/"+name], l.synced
}

func TestMissingSecretWarnings(t *testing.T) {
	t.Parallel()
	cfg := injector.DefaultConfig()
	cfg.ImagePullSecrets = []string{"platform-pull"}
	in := injector.New(cfg)
	var d appsv1.Deployment
	d.Labels = map[string]string{api.ServerLabel: "s"}
	d.Annotations = map[string]string{
		api.AnnSecretEnv:            "A=env-secret:a,B=env-secret:b",
		api.AnnSecretFiles:          "files:/etc/files",
		api.AnnRequestHeadersSecret: "headers", // ignored with stdio: not needed
	}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "server", Command: []string{"server"}}}
	unlabelled := d.DeepCopy()
	res, errs := in.Admit(&d)
	require.Empty(t, errs)
	refs := res.SecretRefs
	require.Equal(t, []injector.SecretRef{
		{Name: "env-secret", Source: api.AnnSecretEnv},
		{Name: "files", Source: api.AnnSecretFiles},
		{Name: "platform-pull", Source: "platform imagePullSecrets"},
	}, refs)

	warnings := missingSecretWarnings(lookupMap{synced: true, secrets: map[string]bool{"ns/files": true}}, "ns", refs)
	assert.Equal(t, []string{
		`Secret "env-secret" (from mcp.archestra.io/secret-env) does not exist in namespace "ns" yet; pods that need it will not start until it does`,
		`Secret "platform-pull" (from platform imagePullSecrets) does not exist in namespace "ns" yet; pods that need it will not start until it does`,
	}, warnings)
	assert.Empty(t, missingSecretWarnings(lookupMap{synced: false}, "ns", refs), "no warnings before the cache has synced")
	assert.Empty(t, missingSecretWarnings(nil, "ns", refs))

	delete(unlabelled.Labels, api.ServerLabel)
	res, errs = in.Admit(unlabelled)
	require.Empty(t, errs)
	assert.Nil(t, res.SecretRefs, "unlabelled: no references")
}
