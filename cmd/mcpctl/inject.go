package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/injector"
	"github.com/archestra-ai/mcp-orchestrator/internal/version"
)

func runVersion(stdout io.Writer) int {
	fmt.Fprintln(stdout, version.Version)
	return 0
}

// runInject reads multi-document YAML and writes it back with every apps/v1
// Deployment injected; other documents, and Deployments the injection
// leaves as they are, pass through byte for byte. Nothing
// is written unless every document is fine, so a failed run never leaves a
// half-injected file behind in a pipeline.
func runInject(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("inject", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "", "input file, or - for standard input")
	configFile := fs.String("config", "", "platform config (YAML), as given to the webhook")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *file == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "mcpctl inject: -f FILE or -f - is required, and nothing else")
		return 2
	}
	cfg, err := injector.LoadConfig(*configFile)
	if err != nil {
		fmt.Fprintf(stderr, "mcpctl inject: %v\n", err)
		return 1
	}
	cfg.Version = version.Version
	in := stdin
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			fmt.Fprintf(stderr, "mcpctl inject: %v\n", err)
			return 1
		}
		defer f.Close()
		in = f
	}
	out, warnings, err := injectDocuments(injector.New(cfg), in)
	for _, w := range warnings {
		fmt.Fprintf(stderr, "Warning: %s\n", w)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mcpctl inject: %v\n", err)
		return 1
	}
	_, _ = stdout.Write(out)
	return 0
}

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
}

func injectDocuments(in *injector.Injector, r io.Reader) ([]byte, []string, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var (
		docs     [][]byte
		warnings []string
		problems []string
	)
	for i := 1; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		out, warns, err := injectDocument(in, doc)
		if err != nil {
			problems = append(problems, fmt.Sprintf("document %d: %v", i, err))
			continue
		}
		for _, w := range warns {
			warnings = append(warnings, fmt.Sprintf("document %d: %s", i, w))
		}
		docs = append(docs, out)
	}
	if len(problems) > 0 {
		return nil, warnings, errors.New(strings.Join(problems, "\n"))
	}
	var buf bytes.Buffer
	for i, d := range docs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(d)
		if !bytes.HasSuffix(d, []byte("\n")) {
			buf.WriteByte('\n')
		}
	}
	return buf.Bytes(), warnings, nil
}

func injectDocument(in *injector.Injector, doc []byte) ([]byte, []string, error) {
	var tm typeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, nil, fmt.Errorf("not a Kubernetes object: %w", err)
	}
	if tm.APIVersion != "apps/v1" || tm.Kind != "Deployment" || !injectable(doc) {
		return doc, nil, nil
	}
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(doc, &d); err != nil {
		return nil, nil, fmt.Errorf("Deployment %s: %w", tm.Metadata.Name, err)
	}
	original := d.DeepCopy()
	warnings, errs := in.Inject(&d)
	if len(errs) > 0 {
		msg := fmt.Sprintf("Deployment %s:", d.Name)
		for _, e := range errs {
			msg += "\n  - " + e.Error()
		}
		return nil, warnings, errors.New(msg)
	}
	if apiequality.Semantic.DeepEqual(original, &d) {
		return doc, warnings, nil // already injected: the user's bytes, comments and all
	}
	out, err := encodeDeployment(&d, doc)
	if err != nil {
		return nil, nil, fmt.Errorf("Deployment %s: encoding: %w", d.Name, err)
	}
	return out, warnings, nil
}

// injectable: the Deployment carries the server label, or the marker of an
// earlier injection (which Inject removes with what it added). Any other
// Deployment is not ours: it passes through unread, even with fields this
// build's types do not know.
func injectable(doc []byte) bool {
	var m struct {
		Metadata struct {
			Labels      map[string]any `json:"labels"`
			Annotations map[string]any `json:"annotations"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &m); err != nil {
		return true // malformed metadata: the strict decode reports it
	}
	_, labelled := m.Metadata.Labels[api.ServerLabel]
	_, injected := m.Metadata.Annotations[api.AnnInjected]
	return labelled || injected
}

// stripComments drops comment-only lines, to tell an empty document (only
// comments) from a real one.
func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}
