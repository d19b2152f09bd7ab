package api_test

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

var update = flag.Bool("update", false, "rewrite annotations.schema.json from the registry")

func TestPodEndpointRoundTrip(t *testing.T) {
	t.Parallel()
	for name, e := range map[string]api.PodEndpoint{
		"stdio per-session":    {Port: 8080, Path: "/mcp", Transport: api.TransportStdio, Sessions: api.SessionsPerSession},
		"stdio shared, tools":  {Port: 8080, Path: "/mcp", Transport: api.TransportStdio, Sessions: api.SessionsShared, AllowedTools: []string{"a", "b"}},
		"http, empty allow":    {Port: 9000, Path: "/x/mcp", Transport: api.TransportStreamableHTTP, AllowedTools: []string{}},
		"http, no allow-list ": {Port: 1, Path: "/", Transport: api.TransportStreamableHTTP},
		"caller auth":          {Port: 8080, Path: "/mcp", Transport: api.TransportStdio, Sessions: api.SessionsShared, CallerAuth: api.CallerAuthMTLS},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := api.ParsePodEndpoint(api.EncodePodEndpoint(e))
			require.NoError(t, err)
			assert.Equal(t, e, got)
		})
	}
}

func TestParsePodEndpoint(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		ann  map[string]string
		want api.PodEndpoint
		err  string
	}{
		{name: "older webhook: defaults", ann: map[string]string{},
			want: api.PodEndpoint{Port: 8080, Path: "/mcp", Transport: "stdio", Sessions: "per-session"}},
		{name: "bad port", ann: map[string]string{api.PodAnnEndpointPort: "80x"}, err: "endpoint-port"},
		{name: "port out of range", ann: map[string]string{api.PodAnnEndpointPort: "70000"}, err: "not a port"},
		{name: "relative path", ann: map[string]string{api.PodAnnEndpointPath: "mcp"}, err: "endpoint-path"},
		{name: "caller auth of a newer webhook", ann: map[string]string{api.PodAnnCallerAuth: "spiffe"}, err: "caller-auth"},
		{name: "allow-list with spaces", ann: map[string]string{api.PodAnnAllowedTools: " a, ,b "},
			want: api.PodEndpoint{Port: 8080, Path: "/mcp", Transport: "stdio", Sessions: "per-session", AllowedTools: []string{"a", "b"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := api.ParsePodEndpoint(tt.ann)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// Only mtls pods are reached over HTTPS; pods injected before caller
// authentication existed keep plain HTTP until they roll.
func TestPodEndpointScheme(t *testing.T) {
	t.Parallel()
	old, err := api.ParsePodEndpoint(map[string]string{})
	require.NoError(t, err)
	assert.Equal(t, "http", old.Scheme())
	assert.Empty(t, old.CallerAuth)
	enforced, err := api.ParsePodEndpoint(map[string]string{api.PodAnnCallerAuth: "mtls"})
	require.NoError(t, err)
	assert.Equal(t, "https", enforced.Scheme())
}

func TestCallerRoundTrip(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]api.Caller{
		"service account":   {User: "system:serviceaccount:team-a:agent", Groups: []string{"system:serviceaccounts", "system:authenticated"}},
		"no groups":         {User: "alice@example.com"},
		"commas and spaces": {User: "Doe, Jane", Groups: []string{"a,b", " lead ", "100%"}},
		"non-ASCII":         {User: "jürgen", Groups: []string{"Ærø\n"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			user, groups := api.EncodeCaller(c)
			for _, v := range []string{user, groups} {
				for _, r := range v {
					assert.True(t, r > ' ' && r < 0x7f, "%q is printable ASCII without spaces", v)
				}
			}
			got, err := api.ParseCaller(user, groups)
			require.NoError(t, err)
			assert.Equal(t, c, got)
		})
	}
	readable, _ := api.EncodeCaller(api.Caller{User: "system:serviceaccount:default:e2e-client"})
	assert.Equal(t, "system:serviceaccount:default:e2e-client", readable, "readable in logs")
	user, groups := api.EncodeCaller(api.Caller{User: "u", Groups: []string{""}})
	got, err := api.ParseCaller(user, groups)
	require.NoError(t, err)
	assert.Equal(t, api.Caller{User: "u"}, got, "an empty group name is left out")
	_, err = api.ParseCaller("bad%zz", "")
	assert.ErrorContains(t, err, api.HeaderCallerUser)
	_, err = api.ParseCaller("u", "ok,%")
	assert.ErrorContains(t, err, api.HeaderCallerGroups)
}

// The derived name is stored in clusters: it must never change.
func TestRegistrySecretNameIsStable(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "vendor-login-mcp-registry", api.RegistrySecretName("vendor-login"))
	long := strings.Repeat("a", 250)
	got := api.RegistrySecretName(long)
	assert.Len(t, got, 253)
	assert.Equal(t, strings.Repeat("a", 240)+"-cca056026c31", got)
}

func TestAnnotationsSchemaIsCurrent(t *testing.T) {
	t.Parallel()
	got := api.AnnotationsJSONSchema()
	if *update {
		require.NoError(t, os.WriteFile("annotations.schema.json", got, 0o644))
	}
	want, err := os.ReadFile("annotations.schema.json")
	require.NoError(t, err, "run go test ./api -update")
	assert.Equal(t, string(want), string(got), "annotations.schema.json is stale: go test ./api -run TestAnnotationsSchemaIsCurrent -update")
}

func TestAnnotationKeysArePrefixedAndUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, a := range api.Annotations {
		assert.True(t, strings.HasPrefix(a.Key, api.Prefix), a.Key)
		assert.False(t, seen[a.Key], "duplicate %s", a.Key)
		assert.NotEmpty(t, a.Effect, a.Key)
		assert.NotEmpty(t, a.Example, a.Key)
		seen[a.Key] = true
	}
}
