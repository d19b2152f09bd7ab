package pullsecrets

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

func creds(data map[string]string) *corev1.Secret {
	s := &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func TestDockerConfigJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, server, wantHost string
	}{
		{"host", "registry.example.com", "registry.example.com"},
		{"host and port", "registry.example.com:5000", "registry.example.com:5000"},
		{"url", "https://registry.example.com/v2/", "registry.example.com"},
		{"docker hub", "docker.io", "https://index.docker.io/v1/"},
		{"ip", "10.1.2.3:5000", "10.1.2.3:5000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := DockerConfigJSON(creds(map[string]string{KeyServer: tt.server, KeyUsername: "robot", KeyPassword: "pa:ss", KeyEmail: "r@example.com"}))
			require.NoError(t, err)
			var cfg dockerConfig
			require.NoError(t, json.Unmarshal(out, &cfg))
			auth, ok := cfg.Auths[tt.wantHost]
			require.True(t, ok, "auths: %v", cfg.Auths)
			assert.Equal(t, "robot", auth.Username)
			assert.Equal(t, "pa:ss", auth.Password)
			assert.Equal(t, "r@example.com", auth.Email)
			decoded, _ := base64.StdEncoding.DecodeString(auth.Auth)
			assert.Equal(t, "robot:pa:ss", string(decoded))
		})
	}
}

func TestDockerConfigJSONErrorsNeverShowValues(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-very-secret"
	tests := []struct {
		name string
		s    *corev1.Secret
		want string
	}{
		{"missing keys", creds(map[string]string{KeyServer: "r.example.com"}), "missing or empty keys: username, password"},
		{"bad server", creds(map[string]string{KeyServer: "not a host " + secret, KeyUsername: "u", KeyPassword: secret}), "key server is not a registry host or URL"},
		{"server with credentials", creds(map[string]string{KeyServer: "https://u:" + secret + "@r.example.com", KeyUsername: "u", KeyPassword: "p"}), "not a registry host"},
		{"colon in username", creds(map[string]string{KeyServer: "r.example.com", KeyUsername: "a:" + secret, KeyPassword: "p"}), "must not contain ':'"},
		{"wrong type", &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{".dockerconfigjson": []byte(secret)}}, "secret type is kubernetes.io/dockerconfigjson"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := DockerConfigJSON(tt.s)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), secret)
		})
	}
}
