package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/certs/certmanager"
	"github.com/archestra-ai/mcp-orchestrator/injector"
)

const chartDir = "../../charts/mcp-orchestrator"

// helmBin is the helm built from tools/helm: $HELM (set by make), else the
// build script, which returns at once when the binary is cached.
var helmBin = sync.OnceValues(func() (string, error) {
	if h := os.Getenv("HELM"); h != "" {
		return h, nil
	}
	var stderr bytes.Buffer
	cmd := exec.Command("../../hack/build-helm.sh")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", errors.New("hack/build-helm.sh: " + err.Error() + ": " + stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
})

// helmTemplate renders the chart as release mcp-orchestrator in ns.
func helmTemplate(t *testing.T, ns string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	bin, err := helmBin()
	require.NoError(t, err)
	cmd := exec.Command(bin, append([]string{"template", "mcp-orchestrator", chartDir, "--namespace", ns}, args...)...)
	// Keep the user's helm config, repositories and plugins out of the test.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+home, "HELM_CACHE_HOME="+home, "HELM_DATA_HOME="+home)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

func mustHelmTemplate(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, stderr, err := helmTemplate(t, ns, args...)
	require.NoError(t, err, stderr)
	return out
}

// parseObjects splits a multi-document manifest into objects keyed by
// kind/namespace/name, each normalized so that formatting is not a difference:
// the embedded files (platform config, OIDC config) are compared as YAML, and an empty status
// (which the generated cert-manager objects carry) is dropped.
func parseObjects(t *testing.T, manifest string) map[string]map[string]any {
	t.Helper()
	objs := map[string]map[string]any{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifest)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		require.NoError(t, err)
		var obj map[string]any
		require.NoError(t, yaml.Unmarshal(doc, &obj), string(doc))
		if obj == nil { // comments only
			continue
		}
		meta, _ := obj["metadata"].(map[string]any)
		key := obj["kind"].(string) + "/" + str(meta["namespace"]) + "/" + str(meta["name"])
		require.NotContains(t, objs, key, "rendered twice")
		if s, ok := obj["status"].(map[string]any); ok && len(s) == 0 {
			delete(obj, "status")
		}
		if data, ok := obj["data"].(map[string]any); ok && obj["kind"] == "ConfigMap" {
			for _, file := range []string{"config.yaml", "authn.yaml"} {
				if cfg, ok := data[file].(string); ok {
					var parsed any
					require.NoError(t, yaml.Unmarshal([]byte(cfg), &parsed))
					data[file] = parsed
				}
			}
		}
		objs[key] = obj
	}
}

func str(v any) string { s, _ := v.(string); return s }

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// object decodes the rendered object key strictly into a typed object.
func object[T any](t *testing.T, objs map[string]map[string]any, key string) *T {
	t.Helper()
	obj, ok := objs[key]
	require.True(t, ok, "%s not rendered; have %v", key, keys(objs))
	out, err := yaml.Marshal(obj)
	require.NoError(t, err)
	var v T
	mustUnmarshal(t, string(out), &v)
	return &v
}

// Helm and kustomize render the same objects, in the same namespace, for
// each cert mode and for the OIDC example. Each object is compared as YAML
// with sorted keys, so a mismatch shows as a line diff of that object.
func TestHelmRendersKustomizeObjects(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	for _, tt := range []struct {
		name, kustomization string
		helmArgs            []string
	}{
		{"self-signed", "../../manifests/overlays/self-signed", []string{"--set", "certMode=self-signed"}},
		{"cert-manager", "../../manifests/overlays/cert-manager", []string{"--set", "certMode=cert-manager"}},
		{"oidc", oidcExample, oidcExampleValues},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kustomized, stderr, err := kubectl(t, "", "kustomize", tt.kustomization)
			require.NoError(t, err, stderr)
			want := parseObjects(t, withoutNameHashes(kustomized))
			got := parseObjects(t, mustHelmTemplate(t, "mcp-system", tt.helmArgs...))
			dropChecksums(t, got)
			require.Equal(t, keys(want), keys(got), "the same objects")
			for _, key := range keys(want) {
				wantYAML, err := yaml.Marshal(want[key])
				require.NoError(t, err)
				gotYAML, err := yaml.Marshal(got[key])
				require.NoError(t, err)
				assert.Equal(t, string(wantYAML), string(gotYAML), "%s: kustomize (expected) vs helm (actual)", key)
			}
		})
	}
}

// Every mode renders objects the API server accepts (server-side dry run;
// envtest has no cert-manager CRDs, so those decode strictly into the
// cert-manager types instead and equal what certs/certmanager builds), and a
// platform config the webhook loads.
func TestHelmObjectsAreAccepted(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	caPEM, _, _, err := newServingCert("mcp-webhook.mcp-system.svc")
	require.NoError(t, err)
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	require.NoError(t, os.WriteFile(caFile, caPEM, 0o600))
	for _, tt := range []struct {
		name, certMode string
		args           []string
	}{
		{"self-signed", "self-signed", nil},
		{"cert-manager", "cert-manager", nil},
		{"files", "files", []string{"--set-file", "tls.caBundle=" + caFile}},
		{"oidc", "self-signed", oidcExampleValues},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Rendered for a namespace of its own; only the cluster-wide webhook
			// configurations need a fresh name, since this suite registers its
			// own mcp-orchestrator configurations, which an apply would merge with.
			ns := newNamespace(t)
			rendered := mustHelmTemplate(t, ns, append([]string{"--set", "certMode=" + tt.certMode}, tt.args...)...)
			var known []string
			for _, doc := range strings.Split(rendered, "\n---\n") {
				if strings.Contains(doc, "apiVersion: cert-manager.io/") {
					continue
				}
				known = append(known, strings.ReplaceAll(doc, "name: mcp-orchestrator\n", "name: mcp-orchestrator-"+ns+"\n"))
			}
			out, stderr, err := kubectl(t, strings.Join(known, "\n---\n"), "apply", "--server-side", "--force-conflicts", "--dry-run=server", "--field-manager=mcp-test", "-f", "-")
			require.NoError(t, err, stderr)
			for _, want := range []string{"namespace/" + ns, "configmap/mcp-webhook-config", "deployment.apps/mcp-webhook", "deployment.apps/mcp-gateway",
				"service/mcp-webhook", "clusterrole.rbac.authorization.k8s.io/mcp-webhook", "poddisruptionbudget.policy/mcp-gateway",
				"mutatingwebhookconfiguration.admissionregistration.k8s.io/mcp-orchestrator-" + ns,
				"validatingwebhookconfiguration.admissionregistration.k8s.io/mcp-orchestrator-" + ns} {
				assert.Contains(t, out, want+" serverside-applied (server dry run)")
			}

			objs := parseObjects(t, rendered)
			if tt.certMode == "cert-manager" {
				wantIssuer, wantCert := certmanager.Objects(ns, "mcp-webhook")
				assert.Equal(t, wantIssuer, object[cmapi.Issuer](t, objs, "Issuer/"+ns+"/"+certmanager.IssuerName))
				assert.Equal(t, wantCert, object[cmapi.Certificate](t, objs, "Certificate/"+ns+"/"+api.WebhookTLSSecret))
				// And the gateway's client certificate objects.
				for _, o := range certmanager.GatewayObjects(ns) {
					switch o := o.(type) {
					case *cmapi.Issuer:
						assert.Equal(t, o, object[cmapi.Issuer](t, objs, "Issuer/"+ns+"/"+o.Name))
					case *cmapi.Certificate:
						assert.Equal(t, o, object[cmapi.Certificate](t, objs, "Certificate/"+ns+"/"+o.Name))
					}
				}
				assert.Contains(t, object[appsv1.Deployment](t, objs, "Deployment/"+ns+"/mcp-webhook").Spec.Template.Spec.Containers[0].Args, "--gateway-client-ca=cert-manager")
			} else {
				assert.NotContains(t, rendered, "apiVersion: cert-manager.io/")
			}
			assertConfigLoads(t, objs, ns)
			if tt.name == "oidc" {
				assert.Contains(t, out, "configmap/mcp-gateway-oidc serverside-applied (server dry run)")
				assertOIDCConfigLoads(t, objs, ns)
			}
		})
	}
}

// assertConfigLoads checks the rendered platform config with the webhook's
// own loader (strict: unknown fields are errors) and returns it.
func assertConfigLoads(t *testing.T, objs map[string]map[string]any, ns string) injector.Config {
	t.Helper()
	cm, ok := objs["ConfigMap/"+ns+"/mcp-webhook-config"]
	require.True(t, ok, "no platform config; have %v", keys(objs))
	config, err := yaml.Marshal(cm["data"].(map[string]any)["config.yaml"]) // parsed by parseObjects
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(path, config, 0o600))
	cfg, err := injector.LoadConfig(path)
	require.NoError(t, err)
	return cfg
}

// Each value changes what it says it changes.
func TestHelmValues(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	const ns = "mcp-system"
	deploy := func(t *testing.T, objs map[string]map[string]any, name string) *appsv1.Deployment {
		return object[appsv1.Deployment](t, objs, "Deployment/"+ns+"/"+name)
	}
	container := func(t *testing.T, objs map[string]map[string]any, name string) corev1.Container {
		d := deploy(t, objs, name)
		require.Len(t, d.Spec.Template.Spec.Containers, 1)
		return d.Spec.Template.Spec.Containers[0]
	}
	webhookConfigs := func(t *testing.T, objs map[string]map[string]any) []admissionregistrationv1.WebhookClientConfig {
		m := object[admissionregistrationv1.MutatingWebhookConfiguration](t, objs, "MutatingWebhookConfiguration//mcp-orchestrator")
		v := object[admissionregistrationv1.ValidatingWebhookConfiguration](t, objs, "ValidatingWebhookConfiguration//mcp-orchestrator")
		return []admissionregistrationv1.WebhookClientConfig{m.Webhooks[0].ClientConfig, v.Webhooks[0].ClientConfig}
	}
	tests := []struct {
		name   string
		values string
		check  func(t *testing.T, objs map[string]map[string]any)
	}{
		{"platform pod scheduling, inherited by MCP servers", `
webhook:
  tolerations: [{key: dedicated, operator: Equal, value: mcp, effect: NoSchedule}]
  nodeSelector: {node-pool: platform}
  affinity: null`, func(t *testing.T, objs map[string]map[string]any) {
			spec := deploy(t, objs, "mcp-webhook").Spec.Template.Spec
			assert.Equal(t, []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "mcp", Effect: corev1.TaintEffectNoSchedule}}, spec.Tolerations)
			assert.Equal(t, map[string]string{"node-pool": "platform"}, spec.NodeSelector)
			assert.Nil(t, spec.Affinity)
			gw := deploy(t, objs, "mcp-gateway").Spec.Template.Spec
			assert.Empty(t, gw.Tolerations, "the gateway is not the platform pod")
			assert.NotNil(t, gw.Affinity)
		}},
		{"images", `
image: {repository: registry.example.com/mcp/orchestrator, tag: "1.2.3", pullPolicy: Always}
baseImage: {repository: registry.example.com/mcp/base, tag: "4.5.6"}`, func(t *testing.T, objs map[string]map[string]any) {
			for _, name := range []string{"mcp-webhook", "mcp-gateway"} {
				c := container(t, objs, name)
				assert.Equal(t, "registry.example.com/mcp/orchestrator:1.2.3", c.Image)
				assert.Equal(t, corev1.PullAlways, c.ImagePullPolicy)
			}
			cfg := assertConfigLoads(t, objs, ns)
			assert.Equal(t, "registry.example.com/mcp/base:4.5.6", cfg.BaseImage)
			assert.Equal(t, "registry.example.com/mcp/orchestrator:1.2.3", cfg.Sidecar.Image, "the sidecar runs the orchestrator image")
		}},
		{"sidecar image of its own", `sidecar: {image: "registry.example.com/mcp/transport@sha256:0123"}`, func(t *testing.T, objs map[string]map[string]any) {
			assert.Equal(t, "registry.example.com/mcp/transport@sha256:0123", assertConfigLoads(t, objs, ns).Sidecar.Image)
			assert.Equal(t, "ghcr.io/archestra-ai/mcp-orchestrator/mcp-orchestrator:v0.1.0", container(t, objs, "mcp-webhook").Image)
		}},
		{"replicas and resources", `
webhook: {replicas: 3, resources: {requests: {cpu: 200m}}}
gateway: {replicas: 5, minAvailable: 50%}`, func(t *testing.T, objs map[string]map[string]any) {
			assert.Equal(t, int32(3), *deploy(t, objs, "mcp-webhook").Spec.Replicas)
			assert.Equal(t, int32(5), *deploy(t, objs, "mcp-gateway").Spec.Replicas)
			res := container(t, objs, "mcp-webhook").Resources
			assert.Equal(t, "200m", res.Requests.Cpu().String())
			assert.Equal(t, "256Mi", res.Limits.Memory().String(), "maps merge with the defaults")
			assert.Equal(t, "50%", objs["PodDisruptionBudget/"+ns+"/mcp-gateway"]["spec"].(map[string]any)["minAvailable"])
		}},
		{"gateway auth tokens", `
gateway: {auth: {modes: [tokens], tokensSecret: gateway-tokens}, namespaces: [team-a, team-b]}`, func(t *testing.T, objs map[string]map[string]any) {
			c := container(t, objs, "mcp-gateway")
			assert.Subset(t, c.Args, []string{"--auth=tokens", "--tokens-file=/etc/mcp-gateway/tokens/tokens", "--namespaces=team-a,team-b"})
			assert.Contains(t, c.VolumeMounts, corev1.VolumeMount{Name: "tokens", MountPath: "/etc/mcp-gateway/tokens", ReadOnly: true})
			vols := deploy(t, objs, "mcp-gateway").Spec.Template.Spec.Volumes
			require.Len(t, vols, 3)
			assert.Equal(t, "gateway-tokens", vols[2].Secret.SecretName)
		}},
		{"gateway auth none, audiences, caller credentials", `
gateway: {auth: {modes: [none], tokenAudiences: [mcp]}, callerCredentials: true, extraArgs: [--log-level=debug],
  publicURLs: [https://mcp.example.com, "http://gw.example:8080"]}`, func(t *testing.T, objs map[string]map[string]any) {
			args := container(t, objs, "mcp-gateway").Args
			assert.Subset(t, args, []string{"--auth=none", "--token-audiences=mcp", "--caller-credentials", "--log-level=debug",
				"--public-url=https://mcp.example.com,http://gw.example:8080"})
			assert.NotContains(t, args, "--auth=kubernetes")
			role := object[rbacv1.ClusterRole](t, objs, "ClusterRole//mcp-gateway")
			assert.Contains(t, role.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"list", "watch"}})
		}},
		{"gateway without virtual servers", `
gateway: {virtualServers: false}`, func(t *testing.T, objs map[string]map[string]any) {
			assert.Contains(t, container(t, objs, "mcp-gateway").Args, "--virtual-servers=false")
			role := object[rbacv1.ClusterRole](t, objs, "ClusterRole//mcp-gateway")
			assert.NotContains(t, role.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list", "watch"}})
		}},
		{"cert mode files", `
certMode: files
tls: {secretName: my-webhook-cert, caBundle: "-----BEGIN CERTIFICATE-----\n"}`, func(t *testing.T, objs map[string]map[string]any) {
			for _, cc := range webhookConfigs(t, objs) {
				assert.Equal(t, "-----BEGIN CERTIFICATE-----\n", string(cc.CABundle))
			}
			assert.NotContains(t, container(t, objs, "mcp-webhook").Args, "--cert-mode=self-signed")
			assert.Equal(t, "my-webhook-cert", deploy(t, objs, "mcp-webhook").Spec.Template.Spec.Volumes[1].Secret.SecretName)
			assert.NotContains(t, objs, "ClusterRole//mcp-webhook-cabundle", "only self-signed writes caBundles")
		}},
		{"cert-manager with an issuer of the user's", `
certMode: cert-manager
certManager: {issuerRef: {kind: ClusterIssuer, name: corp-ca, group: cert-manager.io}}`, func(t *testing.T, objs map[string]map[string]any) {
			assert.NotContains(t, objs, "Issuer/"+ns+"/mcp-webhook-selfsigned")
			cert := object[cmapi.Certificate](t, objs, "Certificate/"+ns+"/mcp-webhook-tls")
			assert.Equal(t, "ClusterIssuer", cert.Spec.IssuerRef.Kind)
			assert.Equal(t, "corp-ca", cert.Spec.IssuerRef.Name)
		}},
		{"self-signed with another Secret", `tls: {secretName: other-tls}`, func(t *testing.T, objs map[string]map[string]any) {
			assert.Contains(t, container(t, objs, "mcp-webhook").Args, "--tls-secret=other-tls")
		}},
		{"platform config", `
platformConfig:
  maxSessions: 25
  imagePullSecrets: [platform-registry]
  scheduling: {nodeSelector: {node-pool: mcp}}
  networkPolicy: {managed: false}`, func(t *testing.T, objs map[string]map[string]any) {
			cfg := assertConfigLoads(t, objs, ns)
			assert.False(t, cfg.NetworkPolicy.IsManaged(), "the opt-out")
			assert.Equal(t, "mtls", cfg.CallerAuth, "caller authentication by default")
			assert.Equal(t, 25, cfg.MaxSessions)
			assert.Equal(t, []string{"platform-registry"}, cfg.ImagePullSecrets)
			assert.Equal(t, map[string]string{"node-pool": "mcp"}, cfg.Scheduling.NodeSelector)
			limits := cfg.Sidecar.Resources.Limits
			assert.Equal(t, "128Mi", limits.Memory().String(), "defaults kept")
		}},
		{"hibernation", `hibernation: {default: 45m, wakeTimeout: 10s, minWindow: 5s}`, func(t *testing.T, objs map[string]map[string]any) {
			args := container(t, objs, "mcp-gateway").Args
			assert.Subset(t, args, []string{"--hibernate-after-default=45m", "--wake-timeout=10s", "--hibernate-min-window=5s"})
			assert.Equal(t, 5*time.Second, assertConfigLoads(t, objs, ns).MinHibernateAfter(), "the webhook's floor is the gateway's")
		}},
		{"namespace managed elsewhere", `namespace: {create: false}`, func(t *testing.T, objs map[string]map[string]any) {
			assert.NotContains(t, objs, "Namespace//"+ns)
		}},
	}
	valuesDir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Not in t.TempDir(): helm splits --values at commas, which test names have.
			values := filepath.Join(valuesDir, strings.NewReplacer(" ", "-", ",", "").Replace(tt.name)+".yaml")
			require.NoError(t, os.WriteFile(values, []byte(tt.values), 0o600))
			tt.check(t, parseObjects(t, mustHelmTemplate(t, ns, "--values", values)))
		})
	}
}

// Wrong values fail the render and say which value is wrong and why.
func TestHelmRejectsBadValues(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	for _, tt := range []struct {
		set  string
		want []string
	}{
		{"certMode=bogus", []string{"/certMode", "'self-signed', 'cert-manager', 'files'"}},
		{"certMode=files", []string{"/tls/caBundle", "minLength"}},
		{"gateway.auth.modes={oauth}", []string{"/gateway/auth/modes/0", "'oidc', 'serviceaccount', 'kubernetes', 'tokens', 'none'"}},
		{"gateway.auth.modes={tokens}", []string{"/gateway/auth/tokensSecret", "minLength"}},
		{"gateway.auth.mode=kubernetes", []string{"/gateway/auth", "additional properties 'mode' not allowed"}}, // now modes, a list
		{"webhook.replicas=two", []string{"/webhook/replicas", "integer"}},
		{"webhook.tolerations[0].operator=Equals", []string{"/webhook/tolerations/0/operator", "'Equal', 'Exists'"}},
		{"platformConfig.maxSesions=5", []string{"/platformConfig", "maxSesions"}},
		{"platformConfig.baseImage=x", []string{"/platformConfig", "baseImage"}},
		{"hibernation.default=soon", []string{"/hibernation/default", "does not match pattern"}},
		{"platformConfig.hibernation.minWindow=1s", []string{"/platformConfig", "hibernation"}},
		{"platformConfig.callerAuth=basic", []string{"/platformConfig/callerAuth", "'mtls', 'none'"}},
		{"replicas=2", []string{"additional properties 'replicas' not allowed"}}, // webhook.replicas or gateway.replicas
	} {
		t.Run(tt.set, func(t *testing.T) {
			t.Parallel()
			_, stderr, err := helmTemplate(t, "mcp-system", "--set", tt.set)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, stderr, w)
			}
		})
	}
}

// The schema of values.platformConfig lists exactly the fields of the
// webhook's config (less the images and hibernation, which have values of
// their own), and
// scheduling and security theirs, so a new config field cannot be forgotten
// in the chart.
func TestHelmSchemaKnowsPlatformConfig(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	require.NoError(t, err)
	type node struct {
		Properties map[string]*node `json:"properties"`
	}
	var schema node
	require.NoError(t, json.Unmarshal(raw, &schema))
	pc := schema.Properties["platformConfig"]
	require.NotNil(t, pc)
	// baseImage and hibernation.minWindow have values of their own.
	assert.Equal(t, jsonFields(injector.Config{}, "baseImage", "hibernation"), keys(pc.Properties))
	assert.Equal(t, jsonFields(injector.SidecarConfig{}, "image"), keys(pc.Properties["sidecar"].Properties))
	assert.Equal(t, jsonFields(injector.Scheduling{}), keys(pc.Properties["scheduling"].Properties))
	assert.Equal(t, jsonFields(injector.Security{}), keys(pc.Properties["security"].Properties))
}

// jsonFields lists the JSON names of a struct's fields, sorted, less except.
func jsonFields(v any, except ...string) []string {
	var out []string
	typ := reflect.TypeOf(v)
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" && !slices.Contains(except, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
