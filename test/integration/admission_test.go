package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/injector"
	"github.com/archestra-ai/mcp-orchestrator/internal/version"
)

var everythingAnnotations = map[string]string{
	api.AnnCommand:   "npx -y @modelcontextprotocol/server-everything",
	api.AnnSecretEnv: "API_KEY=everything-secrets:api-key",
}

func TestCreateInjectsWithPlatformDefaults(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	ns := newNamespace(t)
	_, stderr, err := kubectl(t, deploymentYAML("everything", true, "", everythingAnnotations), "apply", "-n", ns, "-f", "-")
	require.NoError(t, err, stderr)

	d := getDeployment(t, ns, "everything")
	p := d.Spec.Template.Spec
	assert.Contains(t, d.Annotations, api.AnnInjected)
	assert.Equal(t, "everything", d.Spec.Template.Labels[api.ServerLabel])
	assert.Equal(t, "8080", d.Spec.Template.Annotations[api.PodAnnEndpointPort])

	server := findContainer(p.Containers, "server")
	require.NotNil(t, server)
	assert.Equal(t, "registry.example.com/mcp/base:1.0.0", server.Image, "base image + command mode")
	assert.Equal(t, []string{api.LauncherPath, "launch", "--socket", api.LauncherSocket, "--", "npx", "-y", "@modelcontextprotocol/server-everything"}, server.Command)
	assert.Contains(t, server.Env, corev1.EnvVar{Name: "API_KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "everything-secrets"}, Key: "api-key"}}})
	require.NotNil(t, server.SecurityContext)
	assert.Equal(t, false, *server.SecurityContext.AllowPrivilegeEscalation)
	assert.Equal(t, "64Mi", server.Resources.Requests.Memory().String())

	sidecar := findContainer(p.InitContainers, api.SidecarName)
	require.NotNil(t, sidecar, "the sidecar is injected")
	require.NotNil(t, sidecar.RestartPolicy)
	assert.Equal(t, corev1.ContainerRestartPolicyAlways, *sidecar.RestartPolicy, "a native sidecar")
	assert.Equal(t, sidecarImageV1, sidecar.Image)
	assert.Equal(t, int32(8080), sidecar.Ports[0].ContainerPort)
	assert.Equal(t, "mcp", sidecar.Ports[0].Name)
	assert.True(t, *sidecar.SecurityContext.RunAsNonRoot)
	assert.NotNil(t, findContainer(p.InitContainers, api.InstallName))

	// Scheduling comes from the platform pod, minus what Kubernetes added to it.
	platform, err := client.CoreV1().Pods(platformNamespace).Get(context.Background(), platformPodName, metav1.GetOptions{})
	require.NoError(t, err)
	require.Len(t, platform.Spec.Tolerations, 3, "DefaultTolerationSeconds added two tolerations to the platform pod")
	require.Len(t, p.Tolerations, 1)
	assert.Equal(t, "dedicated", p.Tolerations[0].Key)
	assert.Equal(t, map[string]string{"node-pool": "platform", "kubernetes.io/os": "linux"}, p.NodeSelector)
	assert.Equal(t, []corev1.LocalObjectReference{{Name: "platform-pull"}}, p.ImagePullSecrets)
	assert.False(t, *p.AutomountServiceAccountToken)

	// The stored object, with the API server's defaults filled in, is a fixed
	// point of the injector: a later admission changes nothing.
	cfg, err := injector.LoadConfig("testdata/webhook-config.yaml")
	require.NoError(t, err)
	cfg.Version = version.Version // as the webhook binary records it
	again := d.DeepCopy()
	_, errs := injector.New(cfg.PlatformScheduling(platform)).Inject(again)
	require.Empty(t, errs)
	assert.True(t, apiequality.Semantic.DeepEqual(d, again), "re-injecting the stored Deployment must change nothing: %s", cmp.Diff(d, again))
}

func TestUpdateReinjects(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	ns := newNamespace(t)
	ctx := context.Background()
	d := deployment(t, deploymentYAML("memory", true, "", map[string]string{api.AnnCommand: "npx -y @modelcontextprotocol/server-memory"}))
	created, err := client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
	require.NoError(t, err)

	created.Annotations[api.AnnSecretEnv] = "MEMORY_KEY=memory:key"
	created.Annotations[api.AnnSessions] = api.SessionsShared
	updated, err := client.AppsV1().Deployments(ns).Update(ctx, created, metav1.UpdateOptions{})
	require.NoError(t, err)
	server := findContainer(updated.Spec.Template.Spec.Containers, "server")
	assert.Contains(t, envNames(server.Env), "MEMORY_KEY")
	assert.Contains(t, findContainer(updated.Spec.Template.Spec.InitContainers, api.SidecarName).Args, "--sessions=shared")
	assert.Len(t, updated.Spec.Template.Spec.InitContainers, 2, "re-injection replaces the sidecar, never duplicates it")
	assert.Equal(t, created.Generation+1, updated.Generation)
}

func TestKubectlApplyTwiceChangesNothing(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	for _, mode := range []string{"client-side", "server-side"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ns := newNamespace(t)
			manifest := deploymentYAML("fetch", true, "", map[string]string{api.AnnCommand: `uvx mcp-server-fetch --user-agent "Archestra MCP"`})
			args := []string{"apply", "-n", ns, "-f", "-"}
			if mode == "server-side" {
				args = append(args, "--server-side")
			}
			_, stderr, err := kubectl(t, manifest, args...)
			require.NoError(t, err, stderr)
			first := getDeployment(t, ns, "fetch")
			require.Contains(t, first.Annotations, api.AnnInjected)

			stdout, stderr, err := kubectl(t, manifest, args...)
			require.NoError(t, err, stderr)
			second := getDeployment(t, ns, "fetch")
			if mode == "client-side" {
				assert.Contains(t, stdout, "unchanged")
			}
			assert.Equal(t, first.Generation, second.Generation, "a second apply must not roll out")
			assert.True(t, apiequality.Semantic.DeepEqual(first.Spec, second.Spec))

			// Changing the manifest's command re-wraps the new command.
			changed := strings.Replace(manifest, "mcp-server-fetch", "mcp-server-fetch==2025.1", 1)
			_, stderr, err = kubectl(t, changed, args...)
			require.NoError(t, err, stderr)
			third := getDeployment(t, ns, "fetch")
			server := findContainer(third.Spec.Template.Spec.Containers, "server")
			assert.Equal(t, []string{api.LauncherPath, "launch", "--socket", api.LauncherSocket, "--",
				"uvx", "mcp-server-fetch==2025.1", "--user-agent", "Archestra MCP"}, server.Command)
			assert.Equal(t, first.Generation+1, third.Generation)
		})
	}
}

func TestServerSideDryRunStoresNothing(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	ns := newNamespace(t)
	stdout, stderr, err := kubectl(t, deploymentYAML("dry", true, "", everythingAnnotations), "apply", "-n", ns, "--dry-run=server", "-o", "yaml", "-f", "-")
	require.NoError(t, err, stderr)
	assert.Contains(t, stdout, "name: "+api.SidecarName, "the dry-run answer shows the injection")
	_, err = client.AppsV1().Deployments(ns).Get(context.Background(), "dry", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "a dry run stores nothing: %v", err)
}

func TestRemovingTheLabelRemovesTheInjection(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	ns := newNamespace(t)
	// A custom image: without the label (and so the base image) an
	// image-less Deployment would be invalid.
	const image = "example.com/mcp/everything:1"
	annotations := map[string]string{api.AnnCommand: "npx -y @modelcontextprotocol/server-everything"}
	labelled := deploymentYAML("revert", true, image, annotations)
	_, stderr, err := kubectl(t, labelled, "apply", "-n", ns, "-f", "-")
	require.NoError(t, err, stderr)
	require.NotEmpty(t, getDeployment(t, ns, "revert").Spec.Template.Spec.InitContainers)

	// The user deletes the label from the manifest and applies it again.
	_, stderr, err = kubectl(t, deploymentYAML("revert", false, image, annotations), "apply", "-n", ns, "-f", "-")
	require.NoError(t, err, stderr)
	reverted := getDeployment(t, ns, "revert")

	// The same manifest, never labelled, as the API server stores it.
	_, stderr, err = kubectl(t, strings.Replace(deploymentYAML("revert", false, image, annotations), "name: revert", "name: never-labelled", 1), "apply", "-n", ns, "-f", "-")
	require.NoError(t, err, stderr)
	plain := getDeployment(t, ns, "never-labelled")

	assert.NotContains(t, reverted.Annotations, api.AnnInjected)
	assert.NotContains(t, reverted.Labels, api.ServerLabel)
	plain.Spec.Template.Labels["app"] = "revert"
	plain.Spec.Selector.MatchLabels["app"] = "revert"
	assert.True(t, apiequality.Semantic.DeepEqual(plain.Spec.Template, reverted.Spec.Template),
		"the pod template must be exactly what the user wrote:\n%v", reverted.Spec.Template)
}

func TestBadAnnotationsDeniedWithEveryProblem(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	ns := newNamespace(t)
	bad := deploymentYAML("bad", true, "", map[string]string{
		api.AnnTransport:          "websocket",
		api.AnnMaxSessions:        "lots",
		api.AnnSecretEnv:          "TOKEN=ghp_pastedTokenValue",
		"mcp.archestra.io/comand": "npx server",
	})
	_, stderr, err := kubectl(t, bad, "apply", "-n", ns, "-f", "-")
	require.Error(t, err)
	assert.Contains(t, stderr, `admission webhook "mutate.mcp.archestra.io" denied the request`)
	for _, want := range []string{
		`metadata.annotations[mcp.archestra.io/transport]: Unsupported value: "websocket"`,
		`metadata.annotations[mcp.archestra.io/max-sessions]: Invalid value: "lots"`,
		`metadata.annotations[mcp.archestra.io/secret-env][0]: Invalid value: must look like VAR=secret:key`,
		`metadata.annotations[mcp.archestra.io/comand]: Invalid value: unknown annotation; did you mean mcp.archestra.io/command?`,
	} {
		assert.Contains(t, stderr, want)
	}
	assert.NotContains(t, stderr, "ghp_pastedTokenValue", "a pasted credential is never echoed")
	_, err = client.AppsV1().Deployments(ns).Get(context.Background(), "bad", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err))
}

func TestWarningsReachKubectl(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	ns := newNamespace(t)
	d := deployment(t, deploymentYAML("warn", true, "", map[string]string{api.AnnCommand: "ignored", api.AnnPort: "9000"}))
	d.Spec.Template.Spec.Containers[0].Image = "example.com/own:1"
	d.Spec.Template.Spec.Containers[0].Command = []string{"/own"}
	manifest := toYAML(t, d)
	_, stderr, err := kubectl(t, manifest, "apply", "-n", ns, "-f", "-")
	require.NoError(t, err, stderr)
	assert.Contains(t, stderr, `Warning: mcp.archestra.io/command is ignored: container "server" sets its own command`)
	assert.Contains(t, stderr, "Warning: mcp.archestra.io/port is ignored with transport stdio")
}

// Not parallel: it reads the webhook's request counters, which parallel
// tests would move.
func TestUnlabelledDeploymentNeverReachesTheWebhook(t *testing.T) {
	requireControlPlane(t)
	ns := newNamespace(t)
	before, err := hook.metric("mcp_webhook_requests_total")
	require.NoError(t, err)
	// Even bad MCP annotations are none of our business without the label.
	manifest := deploymentYAML("plain", false, "nginx:1.27", map[string]string{api.AnnTransport: "websocket"})
	_, stderr, err := kubectl(t, manifest, "apply", "-n", ns, "-f", "-")
	require.NoError(t, err, stderr)
	d := getDeployment(t, ns, "plain")
	d.Annotations["touched"] = "yes"
	_, err = client.AppsV1().Deployments(ns).Update(context.Background(), d, metav1.UpdateOptions{})
	require.NoError(t, err)

	after, err := hook.metric("mcp_webhook_requests_total")
	require.NoError(t, err)
	assert.Equal(t, before, after, "the objectSelector keeps unlabelled Deployments away from the webhook")
	assert.Empty(t, getDeployment(t, ns, "plain").Spec.Template.Spec.InitContainers)

	// Control: a labelled one does reach it (mutate + validate).
	_, stderr, err = kubectl(t, deploymentYAML("labelled", true, "", map[string]string{api.AnnCommand: "x"}), "apply", "-n", ns, "-f", "-")
	require.NoError(t, err, stderr)
	final, err := hook.metric("mcp_webhook_requests_total")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, final-after, 2.0)
}

func envNames(env []corev1.EnvVar) []string {
	var names []string
	for _, e := range env {
		names = append(names, e.Name)
	}
	return names
}

func toYAML(t *testing.T, d *appsv1.Deployment) string {
	t.Helper()
	d.APIVersion, d.Kind = "apps/v1", "Deployment"
	out, err := yamlMarshal(d)
	require.NoError(t, err)
	return out
}

func TestMissingSecretsAreWarnings(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	ns := newNamespace(t)
	manifest := deploymentYAML("needs-secret", true, "", map[string]string{api.AnnSecretEnv: "TOKEN=api-token:token", api.AnnCommand: "server"})
	_, stderr, err := kubectl(t, manifest, "apply", "-n", ns, "-f", "-")
	require.NoError(t, err, stderr)
	assert.Contains(t, stderr, `Warning: Secret "api-token" (from mcp.archestra.io/secret-env) does not exist in namespace "`+ns+`" yet`)
	assert.Contains(t, stderr, `Warning: Secret "platform-pull" (from platform imagePullSecrets)`)

	for _, name := range []string{"api-token", "platform-pull"} {
		_, err = client.CoreV1().Secrets(ns).Create(context.Background(), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name}, StringData: map[string]string{"token": "s3cr3t-value"}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	// The webhook learns about new Secrets from its watch: await it.
	require.Eventually(t, func() bool {
		_, stderr, err := kubectl(t, manifest, "apply", "-n", ns, "--dry-run=server", "-f", "-")
		return err == nil && !strings.Contains(stderr, "does not exist")
	}, 10*time.Second, 100*time.Millisecond)
	assert.NotContains(t, hook.log.String(), "s3cr3t-value", "secret data never reaches the webhook")
}
