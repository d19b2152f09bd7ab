package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
)

// The kustomize example of OIDC sign-in, and the chart values that render
// the same objects (its authn.yaml passed as a string, --set-file).
const oidcExample = "../../manifests/examples/oidc-overlay"

var oidcExampleValues = []string{
	"--set", "gateway.auth.modes={oidc,serviceaccount,kubernetes}",
	"--set", "gateway.publicURLs={https://mcp.example.com}",
	"--set", "gateway.auth.requiredScopes={mcp}",
	"--set-file", "gateway.auth.oidc.config=" + oidcExample + "/authn.yaml",
}

// kustomize names a generated ConfigMap after a hash of its content, and
// rewrites the references to it: the name without it is the chart's.
var generatedName = regexp.MustCompile(`\b(mcp-gateway-oidc)-[0-9a-z]{10}\b`)

func withoutNameHashes(manifest string) string { return generatedName.ReplaceAllString(manifest, "$1") }

// dropChecksums removes the chart's checksum/ annotations of pod templates,
// which roll a Deployment when a ConfigMap changes (kustomize's hashed names
// do that there), after checking that they are SHA-256 digests.
func dropChecksums(t *testing.T, objs map[string]map[string]any) {
	t.Helper()
	digest := regexp.MustCompile(`^[0-9a-f]{64}$`)
	for key, obj := range objs {
		if obj["kind"] != "Deployment" {
			continue
		}
		meta, _ := obj["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)
		annotations, _ := meta["annotations"].(map[string]any)
		for name, v := range annotations {
			if strings.HasPrefix(name, "checksum/") {
				assert.Regexp(t, digest, v, "%s: %s", key, name)
				delete(annotations, name)
			}
		}
		if annotations != nil && len(annotations) == 0 {
			delete(meta, "annotations")
		}
	}
}

// assertOIDCConfigLoads checks the rendered OIDC configuration with the
// gateway's own parser and returns its issuers.
func assertOIDCConfigLoads(t *testing.T, objs map[string]map[string]any, ns string) []auth.IssuerConfig {
	t.Helper()
	cm, ok := objs["ConfigMap/"+ns+"/mcp-gateway-oidc"]
	require.True(t, ok, "no OIDC config; have %v", keys(objs))
	config, err := yaml.Marshal(cm["data"].(map[string]any)["authn.yaml"]) // parsed by parseObjects
	require.NoError(t, err)
	issuers, err := auth.ParseOIDCConfig(config)
	require.NoError(t, err)
	return issuers
}

func gatewayPod(t *testing.T, objs map[string]map[string]any, ns string) (corev1.PodTemplateSpec, corev1.Container) {
	t.Helper()
	d := object[appsv1.Deployment](t, objs, "Deployment/"+ns+"/mcp-gateway")
	require.Len(t, d.Spec.Template.Spec.Containers, 1)
	return d.Spec.Template, d.Spec.Template.Spec.Containers[0]
}

func volume(spec corev1.PodSpec, name string) *corev1.Volume {
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	return nil
}

// The auth values become the gateway's flags, its OIDC ConfigMap and volume.
func TestHelmGatewayAuth(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	const ns = "mcp-system"
	oidcMount := corev1.VolumeMount{Name: "oidc", MountPath: "/etc/mcp-gateway/oidc", ReadOnly: true}
	tests := []struct {
		name   string
		values string
		check  func(t *testing.T, objs map[string]map[string]any)
	}{
		{"default: TokenReview", ``, func(t *testing.T, objs map[string]map[string]any) {
			pod, c := gatewayPod(t, objs, ns)
			assert.Contains(t, c.Args, "--auth=kubernetes")
			for _, a := range c.Args {
				assert.NotRegexp(t, `^--(oidc-config|required-scopes|tokens-file)=`, a)
			}
			assert.Nil(t, volume(pod.Spec, "oidc"))
			assert.NotContains(t, objs, "ConfigMap/"+ns+"/mcp-gateway-oidc")
			assert.Empty(t, pod.Annotations)
		}},
		{"oidc inline as YAML, with static tokens", `
gateway:
  publicURLs: [https://mcp.example.com, "https://mcp.internal.example:8443"]
  auth:
    modes: [oidc, tokens]
    tokensSecret: gateway-tokens
    requiredScopes: [mcp, tools.read]
    oidc:
      config:
        apiVersion: apiserver.config.k8s.io/v1
        kind: AuthenticationConfiguration
        jwt:
        - issuer: {url: https://login.example.com, audiences: [mcp-cli]}
          claimMappings:
            username: {claim: email, prefix: "oidc:"}
            groups: {claim: groups, prefix: "oidc:"}`, func(t *testing.T, objs map[string]map[string]any) {
			pod, c := gatewayPod(t, objs, ns)
			assert.Subset(t, c.Args, []string{"--auth=oidc,tokens", "--tokens-file=/etc/mcp-gateway/tokens/tokens",
				"--public-url=https://mcp.example.com,https://mcp.internal.example:8443",
				"--oidc-config=/etc/mcp-gateway/oidc/authn.yaml", "--required-scopes=mcp,tools.read"})
			assert.Contains(t, c.VolumeMounts, oidcMount)
			v := volume(pod.Spec, "oidc")
			require.NotNil(t, v)
			assert.Equal(t, &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "mcp-gateway-oidc"}}, v.ConfigMap)
			assert.Contains(t, pod.Annotations, "checksum/oidc-config")
			issuers := assertOIDCConfigLoads(t, objs, ns)
			require.Len(t, issuers, 1)
			assert.Equal(t, "https://login.example.com", issuers[0].URL)
			assert.Equal(t, []string{"mcp-cli"}, issuers[0].Audiences)
			assert.Equal(t, auth.PrefixedClaim{Claim: "groups", Prefix: "oidc:"}, issuers[0].Groups)
		}},
		{"oidc from a ConfigMap of the user's", `
gateway:
  publicURLs: [https://mcp.example.com]
  auth: {modes: [oidc, serviceaccount, kubernetes], oidc: {configMap: corp-idp, configMapKey: idp.yaml}}`, func(t *testing.T, objs map[string]map[string]any) {
			pod, c := gatewayPod(t, objs, ns)
			assert.Subset(t, c.Args, []string{"--auth=oidc,serviceaccount,kubernetes", "--oidc-config=/etc/mcp-gateway/oidc/authn.yaml"})
			assert.Contains(t, c.VolumeMounts, oidcMount)
			v := volume(pod.Spec, "oidc")
			require.NotNil(t, v)
			assert.Equal(t, &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "corp-idp"},
				Items: []corev1.KeyToPath{{Key: "idp.yaml", Path: "authn.yaml"}}}, v.ConfigMap)
			assert.NotContains(t, objs, "ConfigMap/"+ns+"/mcp-gateway-oidc", "the user's ConfigMap is used")
			assert.NotContains(t, pod.Annotations, "checksum/oidc-config", "the chart cannot know its content")
		}},
		{"serviceaccount with a gateway-wide audience", `
gateway: {auth: {modes: [serviceaccount, kubernetes], tokenAudiences: [mcp-gateway]}}`, func(t *testing.T, objs map[string]map[string]any) {
			pod, c := gatewayPod(t, objs, ns)
			assert.Subset(t, c.Args, []string{"--auth=serviceaccount,kubernetes", "--token-audiences=mcp-gateway"})
			assert.Nil(t, volume(pod.Spec, "oidc"))
		}},
	}
	valuesDir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Not in t.TempDir(): helm splits --values at commas, which test names have.
			values := filepath.Join(valuesDir, strings.NewReplacer(" ", "-", ",", "", ":", "").Replace(tt.name)+".yaml")
			require.NoError(t, os.WriteFile(values, []byte(tt.values), 0o600))
			tt.check(t, parseObjects(t, mustHelmTemplate(t, ns, "--values", values)))
		})
	}
	t.Run("a new OIDC config rolls the gateway", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		checksum := func(issuer string) string {
			file := filepath.Join(dir, "authn.yaml")
			require.NoError(t, os.WriteFile(file, []byte("apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\n"+
				"jwt:\n- issuer: {url: '"+issuer+"'}\n  claimMappings: {username: {claim: sub, prefix: ''}}\n"), 0o600))
			objs := parseObjects(t, mustHelmTemplate(t, ns, append(oidcExampleValues[:6:6], "--set-file", "gateway.auth.oidc.config="+file)...))
			pod, _ := gatewayPod(t, objs, ns)
			return pod.Annotations["checksum/oidc-config"]
		}
		a := checksum("https://a.example.com")
		assert.Len(t, a, 64)
		assert.Equal(t, a, checksum("https://a.example.com"), "the same config, the same pods")
		assert.NotEqual(t, a, checksum("https://b.example.com"))
	})
}

// Auth values the gateway would refuse at start fail the render instead,
// saying which value is wrong and why.
func TestHelmRejectsBadAuth(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	config := "gateway.auth.oidc.config=" + oidcExample + "/authn.yaml"
	url := "gateway.publicURLs={https://mcp.example.com}"
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"none combined", []string{"--set", "gateway.auth.modes={none,kubernetes}"}, []string{"/gateway/auth/modes", "maxItems: got 2, want 1"}},
		{"serviceaccount after kubernetes", []string{"--set", "gateway.auth.modes={kubernetes,serviceaccount}", "--set", url},
			[]string{"/gateway/auth/modes/1", "value must be one of 'oidc', 'tokens'"}},
		{"serviceaccount after kubernetes, later", []string{"--set", "gateway.auth.modes={oidc,kubernetes,serviceaccount}", "--set", url, "--set-file", config},
			[]string{"/gateway/auth/modes/2", "value must be one of 'oidc', 'tokens'"}},
		{"a mode twice", []string{"--set", "gateway.auth.modes={tokens,tokens}", "--set", "gateway.auth.tokensSecret=t"}, []string{"/gateway/auth/modes", "items at 0 and 1 are equal"}},
		{"no mode", []string{"--set-json", "gateway.auth.modes=[]"}, []string{"/gateway/auth/modes", "minItems: got 0, want 1"}},
		{"oidc without a public URL", []string{"--set", "gateway.auth.modes={oidc}", "--set-file", config}, []string{"/gateway/publicURLs", "minItems: got 0, want 1"}},
		{"oidc without a config", []string{"--set", "gateway.auth.modes={oidc}", "--set", url}, []string{"/gateway/auth/oidc/config", "minProperties: got 0, want 1"}},
		{"oidc config inline and a ConfigMap", []string{"--set", "gateway.auth.modes={oidc}", "--set", url, "--set-file", config, "--set", "gateway.auth.oidc.configMap=corp-idp"},
			[]string{"/gateway/auth/oidc/config", "maxLength"}},
		{"oidc config of another kind", []string{"--set", "gateway.auth.modes={oidc}", "--set", url, "--set", "gateway.auth.oidc.config.kind=StructuredAuthenticationConfiguration"},
			[]string{"/gateway/auth/oidc/config/kind", "'AuthenticationConfiguration'", "missing properties 'apiVersion', 'jwt'"}},
		{"oidc config without oidc", []string{"--set", "gateway.auth.oidc.configMap=corp-idp"}, []string{"/gateway/auth/modes", "value must be 'oidc'"}},
		{"serviceaccount without an audience", []string{"--set", "gateway.auth.modes={serviceaccount,kubernetes}"},
			[]string{"/gateway/publicURLs", "/gateway/auth/tokenAudiences", "minItems: got 0, want 1"}},
		{"public URL with a path", []string{"--set", "gateway.publicURLs={https://example.com/mcp}"}, []string{"/gateway/publicURLs/0", "does not match pattern"}},
		{"scope with a space", []string{"--set", "gateway.auth.requiredScopes={mcp tools}"}, []string{"/gateway/auth/requiredScopes/0", "does not match pattern"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, stderr, err := helmTemplate(t, "mcp-system", tt.args...)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, stderr, w)
			}
		})
	}
}

// The flags the README's OIDC walk-through gives the gateway are what the
// chart README's values and the kustomize example render, and the file
// --oidc-config names is where the config is mounted.
func TestHelmOIDCArgsAsDocumented(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	var documented []string
	for _, line := range strings.Split(fencedBlock(t, "../../README.md", "## Signing in with your identity provider", "the gateway gets", ""), "\n") {
		arg, _, _ := strings.Cut(line, "#")
		if arg = strings.TrimSpace(arg); arg != "" {
			require.True(t, strings.HasPrefix(arg, "--"), "README: %q is not a flag", line)
			documented = append(documented, arg)
		}
	}
	require.Contains(t, documented, "--oidc-config=/etc/mcp-gateway/oidc/authn.yaml")

	values := filepath.Join(t.TempDir(), "oidc.yaml")
	require.NoError(t, os.WriteFile(values, []byte(fencedBlock(t, chartDir+"/README.md", "## Signing in with your identity provider", "", "yaml")), 0o600))
	kustomized, stderr, err := kubectl(t, "", "kustomize", oidcExample)
	require.NoError(t, err, stderr)
	for name, manifest := range map[string]string{
		"chart README": mustHelmTemplate(t, "mcp-system", "--values", values),
		"kustomize":    withoutNameHashes(kustomized),
	} {
		objs := parseObjects(t, manifest)
		pod, c := gatewayPod(t, objs, "mcp-system")
		assert.Subset(t, c.Args, documented, name)
		assert.Contains(t, c.VolumeMounts, corev1.VolumeMount{Name: "oidc", MountPath: "/etc/mcp-gateway/oidc", ReadOnly: true}, name)
		require.NotNil(t, volume(pod.Spec, "oidc"), name)
		assertOIDCConfigLoads(t, objs, "mcp-system")
	}
}

// fencedBlock is the first fenced code block of language lang ("" for any)
// in file after the heading and after the line containing after ("" for
// none), before the next heading of that level.
func fencedBlock(t *testing.T, file, heading, after, lang string) string {
	t.Helper()
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(raw), "\n"+heading)
	require.True(t, ok, "%s: no heading %q", file, heading)
	level := heading[:strings.Index(heading, " ")+1]
	section, _, _ = strings.Cut(section, "\n"+level)
	if after != "" {
		_, section, ok = strings.Cut(section, after)
		require.True(t, ok, "%s: no %q under %q", file, after, heading)
	}
	_, block, ok := strings.Cut(section, "\n```"+lang+"\n")
	require.True(t, ok, "%s: no ```%s block under %q", file, lang, heading)
	block, _, ok = strings.Cut(block, "\n```")
	require.True(t, ok, "%s: unterminated block", file)
	return block
}
