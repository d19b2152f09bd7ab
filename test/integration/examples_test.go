package integration

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Every example in manifests/examples is applied with kubectl: the good
// ones are stored injected, the bad one is denied with its problems.
func TestExamplesApply(t *testing.T) {
	requireControlPlane(t)
	t.Parallel()
	files, err := filepath.Glob("../../manifests/examples/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			ns := newNamespace(t)
			stdout, stderr, err := kubectl(t, "", "apply", "-n", ns, "-f", file)
			if strings.HasPrefix(filepath.Base(file), "bad-") {
				require.Error(t, err)
				assert.Contains(t, stderr, "denied the request")
				assert.Contains(t, stderr, "mcp.archestra.io/transport")
				return
			}
			require.NoError(t, err, stderr)
			if strings.Contains(stdout, "deployment.apps/") {
				assertAllInjected(t, ns)
			} else {
				assert.Contains(t, stdout, "created")
			}
			if filepath.Base(file) == "rbac-use-server.yaml" {
				// What the gateway asks: may this ServiceAccount use this server?
				sa := "system:serviceaccount:" + ns + ":research-agent"
				eventually(t, "the ServiceAccount may use the server", func() bool { return mayUse(t, sa, ns, "everything") })
				assert.False(t, mayUse(t, sa, ns, "github"), "and no other server")
			}
		})
	}
	t.Run("kustomize overlay of an existing Deployment", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t)
		_, stderr, err := kubectl(t, "", "apply", "-n", ns, "-k", "../../manifests/examples/existing-deployment-overlay")
		require.NoError(t, err, stderr)
		assertAllInjected(t, ns)
		d := getDeployment(t, ns, "notes-api")
		assert.Equal(t, "ghcr.io/example/notes-api:2.1.0", d.Spec.Template.Spec.Containers[0].Image, "the image is kept")
		assert.Equal(t, "notes", d.Spec.Template.Labels[api.ServerLabel])
	})
}

func assertAllInjected(t *testing.T, ns string) {
	t.Helper()
	list, err := client.AppsV1().Deployments(ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, list.Items)
	for _, d := range list.Items {
		assert.Contains(t, d.Annotations, api.AnnInjected, d.Name)
		assert.NotNil(t, findContainer(d.Spec.Template.Spec.InitContainers, api.SidecarName), d.Name)
	}
}

func mayUse(t *testing.T, user, ns, server string) bool {
	t.Helper()
	sar, err := client.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   user,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: ns, Group: "mcp.archestra.io", Resource: "servers", Name: server, Verb: "use",
			},
		},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	return sar.Status.Allowed
}
