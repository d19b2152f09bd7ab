package injector_test

import (
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/yaml"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/injector"
)

// FuzzParseConfig feeds any platform config file to the webhook's loader.
// It never panics; an accepted config writes back (YAML) to one that parses
// to the same config and hash, and every MCP server it injects gets a pod
// Kubernetes and the sidecar take: flags the sidecar parses, a pull policy
// Kubernetes knows, no two volumes mounted at one path; injection stays
// idempotent and reversible.
func FuzzParseConfig(f *testing.F) {
	golden, err := os.ReadFile("testdata/config.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	for _, s := range []string{
		"",
		"home: /tmp\n",
		"sidecar: {warmPool: 2, idleTimeout: 10m, imagePullPolicy: Never, maxProcs: 0}\nmaxSessions: 5\ncallerAuth: none\n",
		"sidecar: {maxProcs: -2}\n",
		"sidecar: {idleTimeout: 30 minutes, imagePullPolicy: Sometimes, warmPool: -1}\n",
		"hibernation: {minWindow: 5s}\nnetworkPolicy: {managed: false, gatewayPodLabels: {app: gw}}\n",
		"resources: {requests: {cpu: 1000m}, limits: {memory: 1.5Gi}}\nsecurity: {readOnlyRootFilesystem: true}\n",
		"baseImge: typo\n", "home: relative\n", "{", "- list\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := injector.ParseConfig(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted a config Validate refuses: %v", err)
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("accepted a config that does not marshal: %v", err)
		}
		again, err := injector.ParseConfig(out)
		if err != nil {
			t.Fatalf("written back as %q, it does not parse: %v", out, err)
		}
		if !apiequality.Semantic.DeepEqual(cfg, again) || cfg.Hash() != again.Hash() {
			t.Fatalf("writing back changed the config: %+v, then %+v", cfg, again)
		}
		in := injector.New(cfg)
		for _, ann := range []map[string]string{
			{api.AnnTransport: api.TransportStdio, api.AnnCommand: "server --stdio"},
			{api.AnnTransport: api.TransportStreamableHTTP, api.AnnPort: "3000"},
		} {
			d := fuzzDeployment(ann)
			d.Spec.Template.Spec.Containers[0].Image = "registry.example.com/server:1"
			if _, errs := in.Inject(d.DeepCopy()); len(errs) > 0 {
				t.Fatalf("a plain server %v does not inject with this config: %v", ann, errs)
			}
			checkInjection(t, in, d)
			checkPodTakes(t, d.Spec.Template.Spec)
		}
	})
}

// checkPodTakes checks what the API server and the sidecar would refuse.
func checkPodTakes(t *testing.T, spec corev1.PodSpec) {
	t.Helper()
	for _, c := range append(spec.InitContainers, spec.Containers...) {
		switch c.ImagePullPolicy {
		case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
		default:
			t.Fatalf("container %s: pull policy %q", c.Name, c.ImagePullPolicy)
		}
		paths := map[string]bool{}
		for _, m := range c.VolumeMounts {
			if paths[m.MountPath] || m.MountPath == "/" {
				t.Fatalf("container %s: a second volume, or a volume over the root, at %s", c.Name, m.MountPath)
			}
			paths[m.MountPath] = true
		}
		for _, a := range c.Args {
			if v, ok := strings.CutPrefix(a, "--idle-timeout="); ok {
				if _, err := time.ParseDuration(v); err != nil {
					t.Fatalf("container %s: the sidecar refuses %s", c.Name, a)
				}
			}
			if v, ok := cutAny(a, "--warm-pool=", "--max-procs="); ok && strings.HasPrefix(v, "-") {
				t.Fatalf("container %s: %s", c.Name, a)
			}
		}
	}
}

// cutAny is strings.CutPrefix for the first of prefixes that s starts with.
func cutAny(s string, prefixes ...string) (string, bool) {
	for _, p := range prefixes {
		if v, ok := strings.CutPrefix(s, p); ok {
			return v, true
		}
	}
	return "", false
}
