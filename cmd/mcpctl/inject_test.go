package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
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
metadata: {name: three}
spec: {replicas: "three"}
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
