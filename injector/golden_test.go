package injector_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/yaml"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/injector"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.yaml from the current output")

func testInjector(t testing.TB) *injector.Injector {
	t.Helper()
	cfg, err := injector.LoadConfig("testdata/config.yaml")
	require.NoError(t, err)
	return injector.New(cfg)
}

func readDeployment(t testing.TB, path string) *appsv1.Deployment {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var d appsv1.Deployment
	require.NoError(t, yaml.UnmarshalStrict(data, &d))
	return &d
}

// render is the golden form of one injection: warnings and errors as
// comments, then the resulting Deployment (none when there are errors).
func render(t testing.TB, d *appsv1.Deployment, warnings []string, errs []string) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, w := range warnings {
		b.WriteString("# warning: " + w + "\n")
	}
	for _, e := range errs {
		b.WriteString("# error: " + e + "\n")
	}
	if len(errs) == 0 {
		out, err := yaml.Marshal(d)
		require.NoError(t, err)
		b.Write(out)
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	t.Parallel()
	in := testInjector(t)
	inputs, err := filepath.Glob("testdata/*.yaml")
	require.NoError(t, err)
	var cases int
	for _, input := range inputs {
		if strings.HasSuffix(input, ".golden.yaml") || filepath.Base(input) == "config.yaml" {
			continue
		}
		cases++
		name := strings.TrimSuffix(filepath.Base(input), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			original := readDeployment(t, input)
			d := original.DeepCopy()
			warnings, errs := in.Inject(d)
			got := render(t, d, warnings, errStrings(errs))

			golden := strings.TrimSuffix(input, ".yaml") + ".golden.yaml"
			if *update {
				require.NoError(t, os.WriteFile(golden, got, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "missing golden file; run go test ./injector -run TestGolden -update")
			assert.Equal(t, string(want), string(got))

			t.Run("validate agrees and changes nothing", func(t *testing.T) {
				probe := original.DeepCopy()
				vwarnings, verrs := in.Validate(probe)
				assert.Equal(t, errStrings(errs), errStrings(verrs))
				assert.Equal(t, warnings, vwarnings)
				assert.Equal(t, original, probe)
			})
			if len(errs) > 0 {
				return
			}
			t.Run("idempotent", func(t *testing.T) {
				again := d.DeepCopy()
				warnings2, errs2 := in.Inject(again)
				require.Empty(t, errs2)
				assert.Equal(t, warnings, warnings2)
				assert.Equal(t, string(render(t, d, nil, nil)), string(render(t, again, nil, nil)))
			})
			t.Run("reversible", func(t *testing.T) {
				removed := d.DeepCopy()
				delete(removed.Labels, api.ServerLabel)
				_, errs := in.Inject(removed)
				require.Empty(t, errs)
				want := original.DeepCopy()
				delete(want.Labels, api.ServerLabel)
				assert.True(t, apiequality.Semantic.DeepEqual(want, removed),
					"removing the label must remove every addition:\nwant:\n%s\ngot:\n%s", render(t, want, nil, nil), render(t, removed, nil, nil))
			})
		})
	}
	require.GreaterOrEqual(t, cases, 20, "the golden suite must cover at least 20 cases")
}

// TestGoldenFilesHaveInputs: a golden file whose input was renamed or
// removed would never be compared again, and would still look like a case.
func TestGoldenFilesHaveInputs(t *testing.T) {
	t.Parallel()
	goldens, err := filepath.Glob("testdata/*.golden.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, goldens)
	for _, golden := range goldens {
		input := strings.TrimSuffix(golden, ".golden.yaml") + ".yaml"
		_, err := os.Stat(input)
		assert.NoError(t, err, "%s has no input %s: remove it, or restore its input", golden, input)
	}
}

func errStrings[E interface{ Error() string }](errs []E) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}
