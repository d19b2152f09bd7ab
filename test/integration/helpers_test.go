package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/yaml"
)

func requireControlPlane(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the envtest apiserver (run without -short)")
	}
}

// newNamespace gives each test a namespace of its own, so tests run in
// parallel against one apiserver.
func newNamespace(t *testing.T) string {
	t.Helper()
	name := "t-" + rand.String(8)
	_, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	require.NoError(t, err)
	return name
}

// kubectl runs the kubectl built by `make setup` against the test apiserver.
func kubectl(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(assets, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

func getDeployment(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	d, err := client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return d
}

// deploymentYAML is a plain Deployment as a user writes it; an empty image
// is the "base image + command" mode.
func deploymentYAML(name string, labelled bool, image string, annotations map[string]string) string {
	d := appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations, Labels: map[string]string{"app": name}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "server", Image: image}}},
			},
		},
	}
	if labelled {
		d.Labels[api.ServerLabel] = name
	}
	out, _ := yaml.Marshal(d)
	return string(out)
}

func deployment(t *testing.T, manifest string) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	require.NoError(t, yaml.UnmarshalStrict([]byte(manifest), &d))
	return &d
}

func findContainer(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// waitWebhookActive waits until the API server calls the registered
// webhook: it caches webhook configurations and picks up new ones shortly
// after they are written.
func waitWebhookActive(ctx context.Context, wantImage string) error {
	ns := "webhook-probe-" + rand.String(5)
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	var d appsv1.Deployment
	if err := yaml.Unmarshal([]byte(deploymentYAML("probe", true, "", map[string]string{api.AnnCommand: "probe"})), &d); err != nil {
		return err
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		got, err := client.AppsV1().Deployments(ns).Create(ctx, &d, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil {
			if c := findContainer(got.Spec.Template.Spec.InitContainers, api.SidecarName); c != nil && c.Image == wantImage {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the API server did not start calling the webhook (sidecar image %s) within 20s", wantImage)
}

func yamlMarshal(v any) (string, error) {
	out, err := yaml.Marshal(v)
	return string(out), err
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func mustUnmarshal(t testing.TB, manifest string, v any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(manifest), v); err != nil {
		t.Fatal(err)
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
