package injector_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/yaml"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/injector"
)

// FuzzParse feeds arbitrary values to every annotation at once. Parsing must
// never panic, and whatever it accepts must inject, stay idempotent and be
// fully reversible.
func FuzzParse(f *testing.F) {
	f.Add("stdio", "npx -y @modelcontextprotocol/server-everything", `["--flag", "a b"]`, "TOKEN=s:k", "s1,s2", "s:/etc/s", "8080", "/mcp", "shared", "10", "read,write")
	f.Add("streamable-http", `"unterminated`, "[]", "=:", ",,", ":", "0", "mcp?x", "pooled", "-1", " ")
	f.Add("", `\`, `'a'"b"\ c`, "A=b:c,A=b:c", "UPPER", "x:/tmp", "65536", "/", "per-session", "100001", "a,a")
	f.Add("stdio", "npx -y server", `["--flag"]`, "TOKEN=s:k", "s1", "s:/etc/s", "+3001", "/mcp", "shared", "010", "read")
	in := testInjector(f)
	f.Fuzz(func(t *testing.T, transport, command, args, secretEnv, envFrom, files, port, path, sessions, maxSessions, tools string) {
		d := fuzzDeployment(map[string]string{
			api.AnnTransport:     transport,
			api.AnnCommand:       command,
			api.AnnArgs:          args,
			api.AnnSecretEnv:     secretEnv,
			api.AnnSecretEnvFrom: envFrom,
			api.AnnSecretFiles:   files,
			api.AnnPort:          port,
			api.AnnPath:          path,
			api.AnnSessions:      sessions,
			api.AnnMaxSessions:   maxSessions,
			api.AnnAllowedTools:  tools,
		})
		checkSchemaForm(t, in, d)
		checkInjection(t, in, d)
	})
}

// schemaForms are the published JSON Schema's patterns, by annotation.
var schemaForms = func() map[string]*regexp.Regexp {
	m := map[string]*regexp.Regexp{}
	for _, a := range api.Annotations {
		if a.Pattern != "" {
			m[a.Key] = regexp.MustCompile(a.Pattern)
		}
	}
	return m
}()

// checkSchemaForm: what the webhook accepts, the published JSON Schema
// accepts too (its patterns and enums), so a client that validates with
// the schema never refuses a value the webhook would take.
func checkSchemaForm(t *testing.T, in *injector.Injector, d *appsv1.Deployment) {
	t.Helper()
	if _, labelled := d.Labels[api.ServerLabel]; !labelled {
		return // not an MCP server: its annotations are not the webhook's to check
	}
	if _, errs := in.Validate(d); len(errs) > 0 {
		return
	}
	for _, a := range api.Annotations {
		v, set := d.Annotations[a.Key]
		if !set {
			continue
		}
		if re := schemaForms[a.Key]; re != nil && !re.MatchString(v) {
			t.Fatalf("the webhook accepts %s=%q, the schema's pattern %s refuses it", a.Key, v, a.Pattern)
		}
		if a.Enum != nil && !slices.Contains(a.Enum, v) {
			t.Fatalf("the webhook accepts %s=%q, the schema's enum %v refuses it", a.Key, v, a.Enum)
		}
	}
}

// FuzzInject feeds arbitrary Deployment YAML (seeded with every golden
// input), with the same checks as FuzzParse.
func FuzzInject(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range inputs {
		if !strings.HasSuffix(p, ".golden.yaml") && filepath.Base(p) != "config.yaml" {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	in := testInjector(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var d appsv1.Deployment
		if err := yaml.Unmarshal(data, &d); err != nil {
			return
		}
		checkSchemaForm(t, in, &d)
		checkInjection(t, in, &d)
	})
}

func fuzzDeployment(annotations map[string]string) *appsv1.Deployment {
	var d appsv1.Deployment
	d.Name = "fuzz"
	d.Labels = map[string]string{api.ServerLabel: "fuzz"}
	d.Annotations = annotations
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "server"}}
	return &d
}

func checkInjection(t *testing.T, in *injector.Injector, d *appsv1.Deployment) {
	t.Helper()
	original := d.DeepCopy()
	_, verrs := in.Validate(d)
	if !apiequality.Semantic.DeepEqual(original, d) {
		t.Fatal("Validate changed its input")
	}
	_, errs := in.Inject(d)
	if len(errs) != len(verrs) {
		t.Fatalf("Validate found %d problems, Inject %d", len(verrs), len(errs))
	}
	if len(errs) > 0 {
		return
	}
	again := d.DeepCopy()
	if _, errs := in.Inject(again); len(errs) > 0 {
		t.Fatalf("re-injecting an injected Deployment failed: %v", errs)
	}
	if !apiequality.Semantic.DeepEqual(d, again) {
		t.Fatal("injection is not idempotent")
	}
	if _, labelled := original.Labels[api.ServerLabel]; !labelled {
		return
	}
	delete(again.Labels, api.ServerLabel)
	if _, errs := in.Inject(again); len(errs) > 0 {
		t.Fatalf("removing the label failed: %v", errs)
	}
	delete(original.Labels, api.ServerLabel)
	if !apiequality.Semantic.DeepEqual(original, again) {
		t.Fatal("removing the label did not remove exactly what was injected")
	}
}
