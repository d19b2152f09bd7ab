package webhook

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"sigs.k8s.io/yaml"
)

// The patch builder diffs arrays index by index (diffArrays): an item keeps
// its index and, with it, the fields the webhook's types do not know. That
// is right only while the injector appends its items after the user's.
// These tests pin both halves: the injector's real output patches the
// user's items in place and adds its own at the end, and an insertion
// before the user's items (which the builder cannot tell from an edit)
// rewrites the user's items in place, moving their unknown fields onto the
// inserted item.

type patchOp struct {
	Op   string `json:"op"`
	Path string `json:"path"`
}

// userItemOps lists the operations of patch that add, replace or remove a
// whole item of a list of objects at an index raw's list already has, or
// rename such an item: what an injector that only appends never causes.
func userItemOps(t *testing.T, raw, patch []byte) []string {
	t.Helper()
	if patch == nil {
		return nil
	}
	var ops []patchOp
	require.NoError(t, json.Unmarshal(patch, &ops))
	var doc any
	require.NoError(t, json.Unmarshal(raw, &doc))
	var bad []string
	for _, op := range ops {
		tokens := strings.Split(op.Path, "/")[1:]
		if i, ok := userIndex(doc, tokens[:len(tokens)-1], tokens[len(tokens)-1]); ok {
			bad = append(bad, fmt.Sprintf("%s %s (the user's item %d)", op.Op, op.Path, i))
			continue
		}
		if n := len(tokens); n >= 2 && tokens[n-1] == "name" && op.Op != "add" {
			if i, ok := userIndex(doc, tokens[:n-2], tokens[n-2]); ok {
				bad = append(bad, fmt.Sprintf("%s %s (renames the user's item %d)", op.Op, op.Path, i))
			}
		}
	}
	return bad
}

// userIndex: the value at parent in doc is a list of objects and index is
// one of its indexes.
func userIndex(doc any, parent []string, index string) (int, bool) {
	for _, tok := range parent {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch v := doc.(type) {
		case map[string]any:
			doc = v[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i >= len(v) {
				return 0, false
			}
			doc = v[i]
		default:
			return 0, false
		}
	}
	list, ok := doc.([]any)
	if !ok || len(list) == 0 {
		return 0, false
	}
	if _, objects := list[0].(map[string]any); !objects {
		return 0, false // a list of strings (a command) has no identity to keep
	}
	i, err := strconv.Atoi(index)
	return i, err == nil && i < len(list)
}

func applyPatch(t *testing.T, raw, patch []byte) map[string]any {
	t.Helper()
	out := raw
	if patch != nil {
		p, err := jsonpatch.DecodePatch(patch)
		require.NoError(t, err)
		out, err = p.Apply(raw)
		require.NoError(t, err, "patch: %s", patch)
	}
	var doc map[string]any
	require.NoError(t, json.Unmarshal(out, &doc))
	return doc
}

// TestInjectorOutputPatchesByAppending runs the builder on every golden
// pair of the injector (input and injected Deployment, read as files: the
// webhook does not import the injector).
func TestInjectorOutputPatchesByAppending(t *testing.T) {
	t.Parallel()
	goldens, err := filepath.Glob("../injector/testdata/*.golden.yaml")
	require.NoError(t, err)
	tested := 0
	for _, golden := range goldens {
		mutated := yamlFileToJSON(t, golden)
		if mutated == nil {
			continue // an error case: no object
		}
		raw := yamlFileToJSON(t, strings.TrimSuffix(golden, ".golden.yaml")+".yaml")
		tested++
		t.Run(filepath.Base(golden), func(t *testing.T) {
			t.Parallel()
			patch, err := createPatch(raw, raw, mutated)
			require.NoError(t, err)
			assert.Empty(t, userItemOps(t, raw, patch), "patch: %s", patch)
			var want any
			require.NoError(t, json.Unmarshal(mutated, &want))
			assert.Equal(t, dropEmpty(want), dropEmpty(applyPatch(t, raw, patch)))
		})
	}
	require.GreaterOrEqual(t, tested, 20)
}

// yamlFileToJSON: the file's object as JSON, nil when it holds none.
func yamlFileToJSON(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	out, err := yaml.YAMLToJSON(data)
	require.NoError(t, err)
	if string(out) == "null" {
		return nil
	}
	return out
}

func TestPatchByIndexAppendedAndInsertedItems(t *testing.T) {
	t.Parallel()
	// The user's items carry x-future, a field of a newer API server: in
	// the raw object, not in the decoded one.
	const raw = `{"spec":{"template":{"spec":{
		"initContainers":[{"name":"user-init","image":"busybox","x-future":"kept"}],
		"containers":[{"name":"server","image":"srv","x-future":"kept"}],
		"volumes":[{"name":"data","emptyDir":{},"x-future":"kept"}]}}}}`
	const decoded = `{"spec":{"template":{"spec":{
		"initContainers":[{"name":"user-init","image":"busybox"}],
		"containers":[{"name":"server","image":"srv"}],
		"volumes":[{"name":"data","emptyDir":{}}]}}}}`
	const sidecar = `{"name":"mcp-transport","image":"orchestrator","restartPolicy":"Always"}`
	tests := []struct {
		name    string
		mutated string
		userOps []string
		keptAt  []string // the items that carry x-future after the patch
		notKept []string
	}{
		{
			name: "items appended after the user's: added at the end, the user's patched in place",
			mutated: `{"spec":{"template":{"spec":{
				"initContainers":[{"name":"user-init","image":"busybox"},` + sidecar + `],
				"containers":[{"name":"server","image":"srv","volumeMounts":[{"name":"mcp-tmp","mountPath":"/tmp"}]}],
				"volumes":[{"name":"data","emptyDir":{}},{"name":"mcp-tmp","emptyDir":{}}]}}}}`,
			keptAt: []string{"initContainers/0", "containers/0", "volumes/0"},
		},
		{
			name: "an item inserted before the user's: the user's item is rewritten in place, its unknown field moves",
			mutated: `{"spec":{"template":{"spec":{
				"initContainers":[` + sidecar + `,{"name":"user-init","image":"busybox"}],
				"containers":[{"name":"server","image":"srv"}],
				"volumes":[{"name":"data","emptyDir":{}}]}}}}`,
			userOps: []string{"replace /spec/template/spec/initContainers/0/name (renames the user's item 0)"},
			keptAt:  []string{"initContainers/0", "containers/0", "volumes/0"},
			notKept: []string{"initContainers/1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			patch, err := createPatch([]byte(raw), []byte(decoded), []byte(tt.mutated))
			require.NoError(t, err)
			assert.Equal(t, tt.userOps, userItemOps(t, []byte(raw), patch), "patch: %s", patch)

			got := applyPatch(t, []byte(raw), patch)
			pod := got["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
			item := func(at string) map[string]any {
				list, i, _ := strings.Cut(at, "/")
				n, _ := strconv.Atoi(i)
				return pod[list].([]any)[n].(map[string]any)
			}
			for _, at := range tt.keptAt {
				assert.Equal(t, "kept", item(at)["x-future"], at)
			}
			for _, at := range tt.notKept {
				assert.NotContains(t, item(at), "x-future", at)
			}
			// Either way the known fields come out as the mutator wrote them.
			var want map[string]any
			require.NoError(t, json.Unmarshal([]byte(tt.mutated), &want))
			assert.Equal(t, dropEmpty(want), dropEmpty(withoutKey(got, "x-future")))
		})
	}
}

// withoutKey returns v without the object members named key, recursively.
func withoutKey(v any, key string) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			if k != key {
				out[k] = withoutKey(e, key)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = withoutKey(e, key)
		}
		return out
	}
	return v
}
