package virtual

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/definitions and testdata/names")

// golden compares got with the file, or writes it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./gateway/virtual -run TestGolden -update")
	assert.Equal(t, string(want), string(got), "%s is stale: go test ./gateway/virtual -run TestGolden -update, then review the diff", path)
}

// TestGoldenDefinitions: each testdata/definitions/<case>.yaml parsed; the
// definition read and every problem, in <case>.golden.json.
func TestGoldenDefinitions(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/definitions/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			doc, err := os.ReadFile(f)
			require.NoError(t, err)
			def, problems := ParseDefinition(doc)
			out := struct {
				Valid      bool              `json:"valid"`
				Problems   []string          `json:"problems"`
				Definition api.VirtualServer `json:"definition"`
			}{len(problems) == 0, problems, def}
			if out.Problems == nil {
				out.Problems = []string{}
			}
			b, err := json.MarshalIndent(out, "", "  ")
			require.NoError(t, err)
			golden(t, strings.TrimSuffix(f, ".yaml")+".golden.json", append(b, '\n'))
			if len(problems) == 0 {
				again, ps := api.ParseVirtualServer(mustJSON(t, def))
				assert.Empty(t, ps, "a valid definition, written out, reads back")
				assert.Equal(t, def, again)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// namesCase is a testdata/names file: a definition, what each member
// offers, and names to resolve.
type namesCase struct {
	Definition     string                         `json:"definition"`
	Offered        map[string]map[string][]string `json:"offered"`
	Resolve        []string                       `json:"resolve"`
	ResolvePrompts []string                       `json:"resolvePrompts"`
}

// TestGoldenNames: the names a virtual server exposes for its members'
// tools and prompts, and what names resolve to, in <case>.golden.txt.
// Every exposed name resolves back to its member and original name.
func TestGoldenNames(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/names/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			var c namesCase
			require.NoError(t, yaml.UnmarshalStrict(raw, &c))
			def, problems := ParseDefinition([]byte(c.Definition))
			require.Empty(t, problems)
			s := newServer("ns", "v", def)
			var b strings.Builder
			for _, kind := range []string{kindTool, kindPrompt} {
				fmt.Fprintf(&b, "# %ss exposed\n", kind)
				for _, m := range s.Members {
					for _, orig := range c.Offered[m.Server][kind+"s"] {
						exposed, ok := m.Expose(kind, orig)
						if !ok {
							fmt.Fprintf(&b, "%s/%s: not assigned\n", m.Server, orig)
							continue
						}
						fmt.Fprintf(&b, "%s/%s -> %s\n", m.Server, orig, exposed)
						back, original, ok := s.Resolve(kind, exposed)
						require.True(t, ok, exposed)
						assert.Equal(t, [2]string{m.Server, orig}, [2]string{back.Server, original}, "%s resolves back", exposed)
					}
				}
			}
			resolve(&b, s, kindTool, c.Resolve)
			resolve(&b, s, kindPrompt, c.ResolvePrompts)
			golden(t, strings.TrimSuffix(f, ".yaml")+".golden.txt", []byte(b.String()))
		})
	}
}

func resolve(b *strings.Builder, s *Server, kind string, names []string) {
	fmt.Fprintf(b, "# %s names resolved\n", kind)
	for _, n := range names {
		m, orig, ok := s.Resolve(kind, n)
		if !ok {
			fmt.Fprintf(b, "%q: refused\n", n)
			continue
		}
		fmt.Fprintf(b, "%q -> %s/%s\n", n, m.Server, orig)
	}
}

func TestConfigMapChecks(t *testing.T) {
	t.Parallel()
	doc := "members:\n- server: github\n"
	cm := func(label string, data map[string]string, bin map[string][]byte) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Labels: map[string]string{api.VirtualServerLabel: label}},
			Data: data, BinaryData: bin}
	}
	for _, tt := range []struct {
		name string
		cm   *corev1.ConfigMap
		want []string
	}{
		{"valid", cm("toolbox", map[string]string{api.VirtualServerKey: doc}, nil), nil},
		{"bad label", cm("Tool_box", map[string]string{api.VirtualServerKey: doc}, nil),
			[]string{`label mcp.archestra.io/virtual-server: "Tool_box" is not a server name (a DNS-1123 label)`}},
		{"other keys", cm("toolbox", map[string]string{api.VirtualServerKey: doc, "extra.yaml": ""}, map[string][]byte{"b": nil}), []string{
			`binaryData: not allowed: the definition is YAML in data[virtual-server.yaml]`,
			`data: unknown key "extra.yaml": the definition is data["virtual-server.yaml"] only`}},
		{"no key", cm("toolbox", map[string]string{"virtual-server.yml": doc}, nil), []string{
			`data: unknown key "virtual-server.yml": the definition is data["virtual-server.yaml"] only`,
			`data["virtual-server.yaml"] is missing`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, problems := parseConfigMap(tt.cm)
			assert.Equal(t, tt.want, problems)
		})
	}
}
