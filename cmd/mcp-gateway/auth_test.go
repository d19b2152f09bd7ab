package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
)

func TestCheckAuthModes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"kubernetes":                     "",
		"oidc,serviceaccount,kubernetes": "",
		"tokens,oidc":                    "",
		"none":                           "",
		"":                               "empty",
		"oidc,oidc":                      "listed twice",
		"none,kubernetes":                "cannot be combined",
		"kubernetes,serviceaccount":      "must come before kubernetes",
		"ldap":                           `unknown mode "ldap"`,
	} {
		err := checkAuthModes(splitList(in))
		if want == "" {
			assert.NoError(t, err, in)
		} else {
			assert.ErrorContains(t, err, want, in)
		}
	}
}

func TestBuildAuthNeeds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "auth.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte("apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\njwt:\n- issuer: {url: 'http://127.0.0.1:1'}\n  claimMappings: {username: {claim: sub, prefix: 'oidc:'}}\n"), 0o600))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := &rest.Config{Host: "http://127.0.0.1:1"}
	tests := []struct {
		name string
		o    options
		want string
	}{
		{"oidc without a file", options{authMode: "oidc", publicURLs: "https://gw.test"}, "needs --oidc-config"},
		{"oidc without a public URL", options{authMode: "oidc", oidcConfig: cfgFile}, "needs --public-url"},
		{"bad public URL", options{authMode: "kubernetes", publicURLs: "gw.test"}, "--public-url"},
		{"serviceaccount without an audience", options{authMode: "serviceaccount,kubernetes"}, "needs --public-url or --token-audiences"},
		{"tokens without a file", options{authMode: "tokens"}, "needs --tokens-file"},
		{"oidc", options{authMode: "oidc,serviceaccount,kubernetes", oidcConfig: cfgFile, publicURLs: "https://gw.test", scopes: "mcp"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := buildAuth(context.Background(), tt.o, cfg, fake.NewClientset(), log)
			if tt.want != "" {
				assert.ErrorContains(t, err, tt.want)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, []string{"http://127.0.0.1:1"}, s.resources.AuthorizationServers)
			assert.Equal(t, []string{"mcp"}, s.resources.ScopesSupported)
		})
	}
}
