package injector

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

func httpServer() *appsv1.Deployment {
	var d appsv1.Deployment
	d.Name = "remote"
	d.Labels = map[string]string{api.ServerLabel: "remote"}
	d.Annotations = map[string]string{api.AnnTransport: api.TransportStreamableHTTP, api.AnnPort: "3001", api.AnnAllowedTools: "a,b"}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "remote", Image: "example.com/remote:1"}}
	return &d
}

func sidecarOf(t *testing.T, p corev1.PodSpec) corev1.Container {
	t.Helper()
	i := slices.IndexFunc(p.InitContainers, func(c corev1.Container) bool { return c.Name == api.SidecarName })
	require.GreaterOrEqual(t, i, 0)
	return p.InitContainers[i]
}

// With caller authentication (the default) every server, HTTP ones too,
// gets the CA bundle, HTTPS probes, the exec drain hook and the pod
// annotation the gateway reads; with callerAuth none, what it was before.
func TestCallerAuthInjection(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{CallerAuthMTLS, CallerAuthNone} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			cfg.CallerAuth = mode
			d := httpServer()
			_, errs := New(cfg).Inject(d)
			require.Empty(t, errs)
			p := d.Spec.Template.Spec
			side := sidecarOf(t, p)
			assert.Contains(t, side.Args, "--allowed-tools=a,b", "the allow-list at the pod in both modes")
			pe, err := api.ParsePodEndpoint(d.Spec.Template.Annotations)
			require.NoError(t, err)
			preStop := p.Containers[0].Lifecycle.PreStop
			if mode == CallerAuthNone {
				assert.Empty(t, pe.CallerAuth)
				assert.NotContains(t, side.Args, "--client-ca-file="+filepath.Join(api.GatewayCADir, api.GatewayCAKey))
				assert.Equal(t, corev1.URISchemeHTTP, side.ReadinessProbe.HTTPGet.Scheme)
				require.NotNil(t, preStop.HTTPGet)
				assert.Len(t, p.InitContainers, 1, "no launcher for an HTTP server")
				return
			}
			assert.Equal(t, api.CallerAuthMTLS, pe.CallerAuth)
			assert.Contains(t, side.Args, "--client-ca-file="+filepath.Join(api.GatewayCADir, api.GatewayCAKey))
			assert.Equal(t, corev1.URISchemeHTTPS, side.ReadinessProbe.HTTPGet.Scheme)
			assert.Equal(t, corev1.URISchemeHTTPS, side.LivenessProbe.HTTPGet.Scheme)
			assert.Contains(t, side.VolumeMounts, corev1.VolumeMount{Name: api.GatewayCAVolume, MountPath: api.GatewayCADir, ReadOnly: true})
			i := slices.IndexFunc(p.Volumes, func(v corev1.Volume) bool { return v.Name == api.GatewayCAVolume })
			require.GreaterOrEqual(t, i, 0)
			cm := p.Volumes[i].ConfigMap
			require.NotNil(t, cm)
			assert.Equal(t, api.GatewayCAConfigMap, cm.Name)
			assert.True(t, *cm.Optional, "a pod admitted before the controller wrote the bundle starts (not ready)")
			require.NotNil(t, preStop.Exec, "the drain runs in the pod")
			assert.Equal(t, []string{api.LauncherPath, "drain"}, preStop.Exec.Command)
			assert.Equal(t, api.InstallName, p.InitContainers[0].Name, "the drain binary is installed for HTTP servers too")
			assert.Contains(t, p.Containers[0].VolumeMounts, corev1.VolumeMount{Name: api.SharedVolume, MountPath: api.SharedDir, ReadOnly: true})
			assert.Empty(t, p.Containers[0].Command, "an HTTP server's command is its own")
		})
	}
}

// A Deployment injected before caller authentication is upgraded on its
// next admission, and taken back exactly when the label goes.
func TestCallerAuthUpgradeAndRemoval(t *testing.T) {
	t.Parallel()
	old := DefaultConfig()
	old.CallerAuth = CallerAuthNone
	d := httpServer()
	orig := d.DeepCopy()
	_, errs := New(old).Inject(d)
	require.Empty(t, errs)
	require.NotNil(t, d.Spec.Template.Spec.Containers[0].Lifecycle.PreStop.HTTPGet)

	_, errs = New(DefaultConfig()).Inject(d)
	require.Empty(t, errs)
	fresh := orig.DeepCopy()
	_, errs = New(DefaultConfig()).Inject(fresh)
	require.Empty(t, errs)
	assert.Equal(t, fresh.Spec, d.Spec, "re-injection of an old object equals a fresh injection")

	delete(d.Labels, api.ServerLabel)
	_, errs = New(DefaultConfig()).Inject(d)
	require.Empty(t, errs)
	assert.Equal(t, orig.Spec, d.Spec)
}

func TestConfigCallerAuth(t *testing.T) {
	t.Parallel()
	assert.Equal(t, CallerAuthMTLS, DefaultConfig().CallerAuth, "secure by default")
	dir := t.TempDir()
	for body, want := range map[string]string{
		"callerAuth: none\n":                    "",
		"callerAuth: basic\n":                   `callerAuth must be mtls or none, not "basic"`,
		"networkPolicy: {managed: false}\n":     "",
		"networkPolicy: {gatewayNamespce: x}\n": "unknown field",
	} {
		path := filepath.Join(dir, "c.yaml")
		require.NoError(t, writeFile(path, body))
		cfg, err := LoadConfig(path)
		if want != "" {
			assert.ErrorContains(t, err, want, body)
			continue
		}
		require.NoError(t, err, body)
		if body == "networkPolicy: {managed: false}\n" {
			assert.False(t, cfg.NetworkPolicy.IsManaged())
			assert.Equal(t, CallerAuthMTLS, cfg.CallerAuth)
		}
	}
	assert.True(t, DefaultConfig().NetworkPolicy.IsManaged(), "managed unless opted out")
}
