// Package pullsecrets is the small controller that makes image pull
// Secrets for MCP servers: a kubernetes.io/dockerconfigjson Secret derived
// from a registry-credentials Secret, and copies of allowed pull secrets
// from the platform namespace. It runs in the webhook binary under leader
// election, because an admission webhook must not create objects itself.
package pullsecrets

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Keys of a registry-credentials Secret.
const (
	KeyServer   = "server"
	KeyUsername = "username"
	KeyPassword = "password"
	KeyEmail    = "email"
)

type dockerConfig struct {
	Auths map[string]dockerAuth `json:"auths"`
}

type dockerAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Email    string `json:"email,omitempty"`
	Auth     string `json:"auth"`
}

// DockerConfigJSON builds the .dockerconfigjson of a registry-credentials
// Secret. Errors say what is wrong and never contain a value of the Secret.
func DockerConfigJSON(src *corev1.Secret) ([]byte, error) {
	if src.Type != corev1.SecretTypeOpaque && src.Type != "" && src.Type != corev1.SecretTypeBasicAuth {
		return nil, fmt.Errorf("secret type is %s; registry credentials are an Opaque Secret with keys %s, %s and %s", src.Type, KeyServer, KeyUsername, KeyPassword)
	}
	var missing []string
	for _, k := range []string{KeyServer, KeyUsername, KeyPassword} {
		if len(src.Data[k]) == 0 {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing or empty keys: %s", strings.Join(missing, ", "))
	}
	server, err := registryHost(string(src.Data[KeyServer]))
	if err != nil {
		return nil, err
	}
	user, pass := string(src.Data[KeyUsername]), string(src.Data[KeyPassword])
	if strings.Contains(user, ":") {
		return nil, fmt.Errorf("key %s must not contain ':' (docker's auth field joins username and password with it)", KeyUsername)
	}
	cfg := dockerConfig{Auths: map[string]dockerAuth{server: {
		Username: user,
		Password: pass,
		Email:    string(src.Data[KeyEmail]),
		Auth:     base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)),
	}}}
	return json.Marshal(cfg)
}

// registryHost accepts "registry.example.com", "registry.example.com:5000"
// or "https://registry.example.com/v2/" and returns the host[:port] the
// kubelet matches images against; docker.io maps to its index server.
func registryHost(s string) (string, error) {
	s = strings.TrimSpace(s)
	raw := s
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil || u.RawQuery != "" {
		return "", fmt.Errorf("key %s is not a registry host or URL", KeyServer)
	}
	host := u.Hostname()
	if msgs := validation.IsDNS1123Subdomain(strings.ToLower(host)); len(msgs) > 0 && validation.IsValidIP(nil, host) != nil {
		return "", fmt.Errorf("key %s is not a registry host or URL", KeyServer)
	}
	if host == "docker.io" || host == "index.docker.io" {
		return "https://index.docker.io/v1/", nil
	}
	return u.Host, nil
}
