// Command images writes the single-layer image tarballs that the end-to-end
// cluster imports with `ctr -n k8s.io images import` (no registry here, so
// pods use them with imagePullPolicy Never/IfNotPresent):
//
//   - the orchestrator image, laid out like the Dockerfile's `orchestrator`
//     target: the static binaries of `make build` in /usr/local/bin, uid 65532;
//   - the MCP base image: the host's Node.js with its shared libraries, npm and
//     npx, and an MCP server package installed globally with a warm npm cache,
//     so `npx -y <package>` resolves without network (pods have none); uid
//     10001 with a writable HOME;
//   - the pause image (a static binary that sleeps until SIGTERM);
//   - small static test servers, one image each.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
)

const (
	orchestratorTag = "ghcr.io/archestra-ai/mcp-orchestrator/mcp-orchestrator:v0.1.0"
	baseTag         = "ghcr.io/archestra-ai/mcp-orchestrator/mcp-base:v0.1.0"
	pauseTag        = "localhost/mcp-e2e/pause:v1"
	// Test server images are localhost/mcp-e2e/<name>:v1.
	testTagFormat = "localhost/mcp-e2e/%s:v1"
)

// orchestratorBinaries are the binaries the Dockerfile copies.
var orchestratorBinaries = []string{"mcp-webhook", "mcp-transport", "mcp-gateway", "mcpctl"}

type serverFlags []string

func (s *serverFlags) String() string     { return strings.Join(*s, ",") }
func (s *serverFlags) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	out := flag.String("out", "", "directory for the tarballs")
	binDir := flag.String("bin", "", "directory with the orchestrator binaries (make build)")
	pause := flag.String("pause", "", "static pause binary")
	nodeModules := flag.String("node-modules", "", "node_modules with the MCP server package and its dependencies (flat, as npm ci makes it)")
	npmCache := flag.String("npm-cache", "", "npm cache that holds the registry metadata of the MCP server package")
	var servers serverFlags
	flag.Var(&servers, "server", "test server image, name=static-binary (repeatable)")
	flag.Parse()
	if *out == "" || *binDir == "" || *pause == "" || *nodeModules == "" || *npmCache == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	write := func(name, tag string, img imageSpec) {
		path := filepath.Join(*out, name+".tar")
		if err := img.write(path, tag); err != nil {
			log.Fatalf("image %s: %v", tag, err)
		}
		log.Printf("wrote %s (%s)", path, tag)
	}

	orch, err := orchestratorImage(*binDir)
	if err != nil {
		log.Fatal(err)
	}
	write("mcp-orchestrator", orchestratorTag, orch)

	base, err := baseImage(*nodeModules, *npmCache)
	if err != nil {
		log.Fatal(err)
	}
	write("mcp-base", baseTag, base)

	p, err := staticImage(*pause, "pause", 65535)
	if err != nil {
		log.Fatal(err)
	}
	write("pause", pauseTag, p)

	for _, s := range servers {
		name, bin, ok := strings.Cut(s, "=")
		if !ok {
			log.Fatalf("-server %q: want name=path", s)
		}
		img, err := staticImage(bin, name, 65532)
		if err != nil {
			log.Fatal(err)
		}
		write(name, fmt.Sprintf(testTagFormat, name), img)
	}
}

func orchestratorImage(binDir string) (imageSpec, error) {
	l := newLayer()
	l.base(65532)
	for _, b := range orchestratorBinaries {
		if err := l.file(filepath.Join(binDir, b), "/usr/local/bin/"+b, 0o755, 0); err != nil {
			return imageSpec{}, fmt.Errorf("orchestrator image (run make build first): %w", err)
		}
	}
	return imageSpec{layer: l, user: "65532:65532", entrypoint: []string{"/usr/local/bin/mcp-webhook"},
		env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}}, nil
}

// staticImage is one static binary at /usr/local/bin/<name>, its entrypoint.
func staticImage(bin, name string, uid int) (imageSpec, error) {
	l := newLayer()
	l.base(uid)
	if err := l.file(bin, "/usr/local/bin/"+name, 0o755, 0); err != nil {
		return imageSpec{}, fmt.Errorf("%s image: %w", name, err)
	}
	return imageSpec{layer: l, user: fmt.Sprintf("%d:%d", uid, uid), entrypoint: []string{"/usr/local/bin/" + name},
		env: []string{"PATH=/usr/local/bin:/usr/bin:/bin"}}, nil
}
