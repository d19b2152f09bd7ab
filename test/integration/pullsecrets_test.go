package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/leader"
	"github.com/archestra-ai/mcp-orchestrator/internal/pullsecrets"
)

// The pull secret tests are not parallel: each controller watches every
// namespace, so two at once would both act on every test's objects.

// startPullSecrets runs a controller (without leader election) for the test.
func startPullSecrets(t *testing.T, platformNS string, allowed ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := pullsecrets.New(pullSecretOptions(t, ctx, platformNS, "test-"+rand.String(4), allowed))
	require.NoError(t, err)
	go func() { _ = c.Run(ctx) }()
}

func pullSecretOptions(t *testing.T, ctx context.Context, platformNS, identity string, allowed []string) pullsecrets.Options {
	t.Helper()
	mc, err := metadata.NewForConfig(restConfig)
	require.NoError(t, err)
	secrets := metadatainformer.NewFilteredMetadataInformer(mc, schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, "", 0, nil, nil).Informer()
	go secrets.RunWithContext(ctx)
	return pullsecrets.Options{Client: client, Secrets: secrets, PlatformNamespace: platformNS, CopyAllowed: allowed, Identity: identity}
}

func createSecret(t *testing.T, ns, name string, typ corev1.SecretType, data map[string]string) {
	t.Helper()
	_, err := client.CoreV1().Secrets(ns).Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name}, Type: typ, StringData: data}, metav1.CreateOptions{})
	require.NoError(t, err)
}

func createServer(t *testing.T, ns, name string, annotations map[string]string) *appsv1.Deployment {
	t.Helper()
	annotations[api.AnnCommand] = "server"
	d := deployment(t, deploymentYAML(name, true, "registry.example.com/team/server:1", annotations))
	created, err := client.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{})
	require.NoError(t, err)
	return created
}

// dockerAuth decodes the auth of one registry from a dockerconfigjson Secret.
func dockerAuth(t *testing.T, s *corev1.Secret, server string) (user, pass string) {
	t.Helper()
	var cfg struct {
		Auths map[string]struct{ Auth string } `json:"auths"`
	}
	require.NoError(t, json.Unmarshal(s.Data[corev1.DockerConfigJsonKey], &cfg))
	raw, err := base64.StdEncoding.DecodeString(cfg.Auths[server].Auth)
	require.NoError(t, err)
	user, pass, _ = strings.Cut(string(raw), ":")
	return user, pass
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 15*time.Second, 50*time.Millisecond, what)
}

func getSecret(ns, name string) (*corev1.Secret, error) {
	return client.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
}

func hasEvent(t *testing.T, ns, object, reason, contains string) bool {
	t.Helper()
	events, err := client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	for _, e := range events.Items {
		if e.InvolvedObject.Name == object && e.Reason == reason && strings.Contains(e.Message, contains) {
			return true
		}
	}
	return false
}

func TestRegistryCredentialsBecomeAPullSecret(t *testing.T) {
	requireControlPlane(t)
	ns := newNamespace(t)
	startPullSecrets(t, platformNamespace)
	createSecret(t, ns, "vendor-login", corev1.SecretTypeOpaque, map[string]string{"server": "https://registry.vendor.example/v2/", "username": "robot", "password": "first-pass"})
	dep := createServer(t, ns, "vendor", map[string]string{api.AnnRegistryCredentials: "vendor-login"})
	derived := api.RegistrySecretName("vendor-login")
	assert.Contains(t, dep.Spec.Template.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: derived}, "the webhook lists the derived Secret")

	var s *corev1.Secret
	eventually(t, "the dockerconfigjson Secret is created", func() bool {
		var err error
		s, err = getSecret(ns, derived)
		return err == nil
	})
	assert.Equal(t, corev1.SecretTypeDockerConfigJson, s.Type)
	user, pass := dockerAuth(t, s, "registry.vendor.example")
	assert.Equal(t, "robot", user)
	assert.Equal(t, "first-pass", pass)
	assert.Equal(t, api.ManagedByValue, s.Labels[api.ManagedByLabel])
	require.Len(t, s.OwnerReferences, 1)
	assert.Equal(t, dep.UID, s.OwnerReferences[0].UID, "owned by the Deployment, so garbage collection deletes it with it")

	// Password rotation propagates.
	src, err := getSecret(ns, "vendor-login")
	require.NoError(t, err)
	src.Data["password"] = []byte("rotated-pass")
	_, err = client.CoreV1().Secrets(ns).Update(context.Background(), src, metav1.UpdateOptions{})
	require.NoError(t, err)
	eventually(t, "the rotated password reaches the pull secret", func() bool {
		s, err := getSecret(ns, derived)
		if err != nil {
			return false
		}
		_, pass := dockerAuth(t, s, "registry.vendor.example")
		return pass == "rotated-pass"
	})

	// A deleted source is reported; the last good pull secret stays.
	require.NoError(t, client.CoreV1().Secrets(ns).Delete(context.Background(), "vendor-login", metav1.DeleteOptions{}))
	eventually(t, "the missing source is reported on the Deployment", func() bool {
		return hasEvent(t, ns, "vendor", pullsecrets.ReasonCredentialsNotFound, `Secret "vendor-login"`)
	})
	_, err = getSecret(ns, derived)
	require.NoError(t, err)

	// Deleting the Deployment removes the pull secret (no garbage collector runs in envtest).
	require.NoError(t, client.AppsV1().Deployments(ns).Delete(context.Background(), "vendor", metav1.DeleteOptions{}))
	eventually(t, "the pull secret goes with its Deployment", func() bool {
		_, err := getSecret(ns, derived)
		return apierrors.IsNotFound(err)
	})
}

func TestBadRegistryCredentialsAreReported(t *testing.T) {
	requireControlPlane(t)
	ns := newNamespace(t)
	startPullSecrets(t, platformNamespace)
	const value = "do-not-print-me"
	tests := []struct{ name, secret, want string }{
		{"missing-password", "creds-a", "missing or empty keys: password"},
		{"bad-server", "creds-b", "key server is not a registry host or URL"},
	}
	createSecret(t, ns, "creds-a", corev1.SecretTypeOpaque, map[string]string{"server": "r.example.com", "username": value})
	createSecret(t, ns, "creds-b", corev1.SecretTypeOpaque, map[string]string{"server": "ftp://" + value, "username": "u", "password": value})
	for _, tt := range tests {
		createServer(t, ns, tt.name, map[string]string{api.AnnRegistryCredentials: tt.secret})
	}
	for _, tt := range tests {
		eventually(t, tt.want, func() bool { return hasEvent(t, ns, tt.name, pullsecrets.ReasonCredentialsInvalid, tt.want) })
		_, err := getSecret(ns, api.RegistrySecretName(tt.secret))
		assert.True(t, apierrors.IsNotFound(err), "nothing partial is written")
	}
	events, err := client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	for _, e := range events.Items {
		assert.NotContains(t, e.Message, value)
	}
}

func TestPlatformPullSecretsAreCopiedOnlyWhenAllowed(t *testing.T) {
	requireControlPlane(t)
	platform, ns := newNamespace(t), newNamespace(t)
	startPullSecrets(t, platform, "shared-pull")
	dockercfg := func(pass string) map[string]string {
		return map[string]string{corev1.DockerConfigJsonKey: `{"auths":{"r.example.com":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("u:"+pass)) + `"}}}`}
	}
	createSecret(t, platform, "shared-pull", corev1.SecretTypeDockerConfigJson, dockercfg("one"))
	createSecret(t, platform, "private-pull", corev1.SecretTypeDockerConfigJson, dockercfg("private"))
	createServer(t, ns, "copier", map[string]string{api.AnnImagePullSecrets: "shared-pull,private-pull"})

	eventually(t, "the allowed pull secret is copied", func() bool {
		_, err := getSecret(ns, "shared-pull")
		return err == nil
	})
	_, err := getSecret(ns, "private-pull")
	assert.True(t, apierrors.IsNotFound(err), "a pull secret outside the allow-list is never copied")

	// A second server needing it becomes an owner of the same copy.
	second := createServer(t, ns, "copier-2", map[string]string{api.AnnImagePullSecrets: "shared-pull"})
	eventually(t, "both Deployments own the copy", func() bool {
		s, err := getSecret(ns, "shared-pull")
		return err == nil && len(s.OwnerReferences) == 2 && s.OwnerReferences[1].UID == second.UID
	})

	src, err := getSecret(platform, "shared-pull")
	require.NoError(t, err)
	src.StringData = dockercfg("two")
	_, err = client.CoreV1().Secrets(platform).Update(context.Background(), src, metav1.UpdateOptions{})
	require.NoError(t, err)
	eventually(t, "the copy follows the platform Secret", func() bool {
		s, err := getSecret(ns, "shared-pull")
		if err != nil {
			return false
		}
		_, pass := dockerAuth(t, s, "r.example.com")
		return pass == "two"
	})
}

// Two controller processes share one Lease: only the leader writes, and the
// other takes over when the leader stops.
func TestLeaderElectionOneWriter(t *testing.T) {
	requireControlPlane(t)
	ns := newNamespace(t)
	lease := "pull-secrets-" + rand.String(5)
	run := func(identity string) context.CancelFunc {
		ctx, cancel := context.WithCancel(context.Background())
		e := leader.Election{Client: client, Namespace: platformNamespace, LeaseName: lease, Identity: identity,
			LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 200 * time.Millisecond, Logger: nil}
		e.Logger = slogDiscard()
		go e.Run(ctx, func(ctx context.Context) {
			c, err := pullsecrets.New(pullSecretOptions(t, ctx, platformNamespace, identity, nil))
			if err == nil {
				_ = c.Run(ctx)
			}
		})
		return cancel
	}
	stopA := run("replica-a")
	t.Cleanup(stopA)
	eventually(t, "replica-a leads", func() bool { return leaseHolder(t, lease) == "replica-a" })
	stopB := run("replica-b")
	t.Cleanup(stopB)

	for i, name := range []string{"s1", "s2", "s3"} {
		createSecret(t, ns, name+"-login", corev1.SecretTypeOpaque, map[string]string{"server": "r.example.com", "username": "u", "password": "p" + string(rune('0'+i))})
		createServer(t, ns, name, map[string]string{api.AnnRegistryCredentials: name + "-login"})
	}
	for _, name := range []string{"s1", "s2", "s3"} {
		eventually(t, "pull secret "+name, func() bool { _, err := getSecret(ns, api.RegistrySecretName(name+"-login")); return err == nil })
	}
	writers := func() map[string]bool {
		list, err := client.CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: api.ManagedByLabel + "=" + api.ManagedByValue})
		require.NoError(t, err)
		w := map[string]bool{}
		for _, s := range list.Items {
			w[s.Annotations[pullsecrets.WriterAnnotation]] = true
		}
		return w
	}
	assert.Equal(t, map[string]bool{"replica-a": true}, writers(), "only the leader writes")

	stopA() // the leader goes away and releases the Lease
	eventually(t, "replica-b takes over", func() bool { return leaseHolder(t, lease) == "replica-b" })
	src, err := getSecret(ns, "s1-login")
	require.NoError(t, err)
	src.Data["password"] = []byte("after-failover")
	_, err = client.CoreV1().Secrets(ns).Update(context.Background(), src, metav1.UpdateOptions{})
	require.NoError(t, err)
	eventually(t, "the new leader syncs the rotation", func() bool {
		s, err := getSecret(ns, api.RegistrySecretName("s1-login"))
		return err == nil && s.Annotations[pullsecrets.WriterAnnotation] == "replica-b"
	})
}

func leaseHolder(t *testing.T, name string) string {
	t.Helper()
	l, err := client.CoordinationV1().Leases(platformNamespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}
