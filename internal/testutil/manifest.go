package testutil

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// GeneratedManifest checks that the manifest at path is header followed by
// objs as YAML documents, or writes it so when update is set (the -update
// flag of the calling test). Manifests generated from Go objects cannot
// drift from the code that defines them.
func GeneratedManifest(t *testing.T, path, header string, update bool, objs ...any) {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteString(header)
	for i, obj := range objs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		out, err := yaml.Marshal(obj)
		require.NoError(t, err)
		buf.Write(out)
	}
	if update {
		require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), buf.String(), "%s is out of date: regenerate with -update and review the diff", path)
}
