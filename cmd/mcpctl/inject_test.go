package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/injector"
	"github.com/archestra-ai/mcp-orchestrator/internal/version"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/yaml"
)

func TestInjectPassesOtherDocumentsThrough(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := run([]string{"inject", "-f", "testdata/app.yaml", "--config", "../../injector/testdata/config.yaml"}, nil, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())

	docs := strings.Split(stdout.String(), "---\n")
	require.Len(t, docs, 2, "the comment-only document is dropped, the others kept")
	assert.Contains(t, docs[0], "name: keep-me   # comments in other documents survive")

	var d appsv1.Deployment
	require.NoError(t, yaml.UnmarshalStrict([]byte(docs[1]), &d))
	assert.Contains(t, d.Annotations, api.AnnInjected)
	require.Len(t, d.Spec.Template.Spec.InitContainers, 2)
	assert.Equal(t, api.SidecarName, d.Spec.Template.Spec.InitContainers[1].Name)
	assert.Equal(t, "registry.example.com/mcp/base:1.0.0", d.Spec.Template.Spec.Containers[0].Image)

	// Injecting the output again changes nothing: safe in a pipeline.
	var again bytes.Buffer
	code = run([]string{"inject", "-f", "-", "--config", "../../injector/testdata/config.yaml"}, strings.NewReader(stdout.String()), &again, &stderr)
	require.Equal(t, 0, code, stderr.String())
	assert.Equal(t, stdout.String(), again.String())
}

func TestInjectReportsEveryBadDocumentAndWritesNothing(t *testing.T) {
	t.Parallel()
	input := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: one
  labels: {mcp.archestra.io/server: one}
  annotations: {mcp.archestra.io/transport: websocket}
spec:
  template: {spec: {containers: [{name: s, image: x, command: [x]}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: two
  labels: {mcp.archestra.io/server: two}
  annotations: {mcp.archestra.io/port: "99999", mcp.archestra.io/transport: streamable-http}
spec:
  template: {spec: {containers: [{name: s, image: x}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: three, labels: {mcp.archestra.io/server: three}}
spec: {replicas: "three"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: not-ours}
spec: {replicas: "not ours to judge"}
`
	var stdout, stderr bytes.Buffer
	code := run([]string{"inject", "-f", "-"}, strings.NewReader(input), &stdout, &stderr)
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout.String())
	for _, want := range []string{
		"document 1: Deployment one:", "mcp.archestra.io/transport", "websocket",
		"document 2: Deployment two:", "mcp.archestra.io/port",
		"document 3: Deployment three:",
	} {
		assert.Contains(t, stderr.String(), want)
	}
	assert.NotContains(t, stderr.String(), "document 4", "an unlabelled Deployment is not read")
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{}, {"nope"}, {"inject"}, {"inject", "-f", "a", "extra"}} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 2, run(args, nil, &stdout, &stderr), "%v", args)
		assert.NotEmpty(t, stderr.String())
	}
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 1, run([]string{"inject", "-f", "testdata/missing.yaml"}, nil, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "no such file")
}

const testConfig = "../../injector/testdata/config.yaml"

// emptyValues are what a typed round trip writes for fields nobody set.
var emptyValues = []string{"status: {}", "strategy: {}", "resources: {}", "creationTimestamp: null"}

// countValue counts e in doc outside comment lines.
func countValue(doc, e string) int { return strings.Count(string(stripComments([]byte(doc))), e) }

func injectBytes(t *testing.T, input []byte) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run([]string{"inject", "-f", "-", "--config", testConfig}, bytes.NewReader(input), &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	return stdout.String()
}

// checkInjected: out is in's Deployment injected, exactly as the injector
// makes it, with no empty value in doc that the user did not write.
func checkInjected(t *testing.T, in, out string) {
	t.Helper()
	cfg, err := injector.LoadConfig(testConfig)
	require.NoError(t, err)
	cfg.Version = version.Version // what mcpctl records
	var want, got appsv1.Deployment
	require.NoError(t, yaml.UnmarshalStrict([]byte(in), &want))
	_, errs := injector.New(cfg).Inject(&want)
	require.Empty(t, errs)
	require.NoError(t, yaml.UnmarshalStrict([]byte(out), &got))
	assert.True(t, apiequality.Semantic.DeepEqual(&want, &got), "the written Deployment differs from the injected one:\n%s", out)
	for _, e := range emptyValues {
		assert.Equal(t, countValue(in, e), countValue(out, e), "%q: as often as the user wrote it", e)
	}
}

// TestInjectKeepsWhatItDoesNotOwn: every output document is either the
// input document byte for byte ("same") or its Deployment injected
// ("injected"), in order.
func TestInjectKeepsWhatItDoesNotOwn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		docs  []string
	}{
		{"unlabelled Deployment with comments, flow style, explicit empties and an unknown field", "testdata/unlabelled.yaml", []string{"same"}},
		{"kustomize build output: only the labelled Deployment changes", "testdata/kustomize.yaml", []string{"same", "same", "same", "same", "injected"}},
		{"the user's own resources: {} and strategy: {} are kept", "testdata/resources-kept.yaml", []string{"injected"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			input, err := os.ReadFile(tt.input)
			require.NoError(t, err)
			in := strings.Split(string(input), "\n---\n")
			out := strings.Split(injectBytes(t, input), "---\n")
			require.Len(t, out, len(tt.docs))
			for i, want := range tt.docs {
				doc := strings.TrimSuffix(in[i], "\n") + "\n"
				switch want {
				case "same":
					assert.Equal(t, doc, out[i], "document %d", i+1)
				case "injected":
					checkInjected(t, doc, out[i])
				}
			}
		})
	}
}

// TestInjectAgainAndAfterTheLabelGoes: injecting the output again writes it
// byte for byte (comments added since included); without the label the
// injection is taken away, again without empty values.
func TestInjectAgainAndAfterTheLabelGoes(t *testing.T) {
	t.Parallel()
	input, err := os.ReadFile("testdata/resources-kept.yaml")
	require.NoError(t, err)
	injected := injectBytes(t, input)

	commented := "# reviewed in Git\n" + strings.Replace(injected, "  name: files\n", "  name: files # the name\n", 1)
	assert.Equal(t, commented, injectBytes(t, []byte(commented)))

	const label = "  labels:\n    mcp.archestra.io/server: files\n"
	require.Contains(t, injected, label)
	unlabelled := strings.Replace(injected, label, "", 1)
	out := injectBytes(t, []byte(unlabelled))
	assert.NotContains(t, out, api.AnnInjected)
	assert.NotContains(t, out, api.SidecarName)
	var want, got appsv1.Deployment
	require.NoError(t, yaml.UnmarshalStrict(input, &want))
	delete(want.Labels, api.ServerLabel)
	require.NoError(t, yaml.UnmarshalStrict([]byte(out), &got))
	assert.True(t, apiequality.Semantic.DeepEqual(&want, &got), "removing the label removes the injection:\n%s", out)
	for _, e := range emptyValues {
		assert.Equal(t, countValue(string(input), e), countValue(out, e), "%q", e)
	}
}

// TestInjectEveryGoldenInput: each input of the injector's golden suite
// that injects without errors comes out exactly injected, without added
// empty values; the unlabelled one byte for byte.
func TestInjectEveryGoldenInput(t *testing.T) {
	t.Parallel()
	cfg, err := injector.LoadConfig(testConfig)
	require.NoError(t, err)
	inputs, err := filepath.Glob("../../injector/testdata/*.yaml")
	require.NoError(t, err)
	tested := 0
	for _, input := range inputs {
		if strings.HasSuffix(input, ".golden.yaml") || filepath.Base(input) == "config.yaml" {
			continue
		}
		data, err := os.ReadFile(input)
		require.NoError(t, err)
		var d appsv1.Deployment
		require.NoError(t, yaml.UnmarshalStrict(data, &d))
		if _, errs := injector.New(cfg).Inject(&d); len(errs) > 0 {
			continue
		}
		tested++
		t.Run(filepath.Base(input), func(t *testing.T) {
			t.Parallel()
			out := injectBytes(t, data)
			if !strings.Contains(string(data), api.ServerLabel+":") {
				assert.Equal(t, string(data), out)
				return
			}
			checkInjected(t, string(data), out)
		})
	}
	require.GreaterOrEqual(t, tested, 20)
}
