package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The base image's npm layout: npm's global prefix is /usr/local, so npm,
// npx and the MCP server package live in /usr/local/lib/node_modules with
// their bins in /usr/local/bin, on PATH.
const (
	prefix   = "/usr/local"
	npmCache = "/usr/local/share/npm-cache"
	mcpUID   = 10001
)

// Host programs the image needs besides node: npm runs package bins through
// `sh -c`, and they start with `#!/usr/bin/env node`.
var hostPrograms = map[string]string{"/usr/bin/node": "/usr/bin/node", "/bin/dash": "/bin/sh", "/usr/bin/env": "/usr/bin/env"}

func baseImage(nodeModules, cache string) (imageSpec, error) {
	l := newLayer()
	l.base(mcpUID)
	for src, dst := range hostPrograms {
		if err := l.file(src, dst, 0o755, 0); err != nil {
			return imageSpec{}, fmt.Errorf("base image: %w", err)
		}
		if err := l.sharedLibs(src); err != nil {
			return imageSpec{}, err
		}
	}
	npm, err := filepath.EvalSymlinks("/usr/bin/npm")
	if err != nil {
		return imageSpec{}, fmt.Errorf("base image: npm: %w", err)
	}
	npmDir := filepath.Dir(filepath.Dir(npm)) // .../node_modules/npm
	if err := l.tree(npmDir, prefix+"/lib/node_modules/npm", 0); err != nil {
		return imageSpec{}, fmt.Errorf("base image: copy npm: %w", err)
	}
	must(l.symlink(prefix+"/bin/npm", "../lib/node_modules/npm/bin/npm-cli.js"))
	must(l.symlink(prefix+"/bin/npx", "../lib/node_modules/npm/bin/npx-cli.js"))

	// The flat node_modules of `npm ci` becomes the global node_modules:
	// every package is then "installed globally" for `npx`, and Node's
	// resolution from the server package walks up to its dependencies.
	entries, err := os.ReadDir(nodeModules)
	if err != nil {
		return imageSpec{}, fmt.Errorf("base image: %w", err)
	}
	for _, e := range entries {
		if e.Name() == ".bin" || e.Name() == "npm" || e.Name()[0] == '.' {
			continue
		}
		if err := l.tree(filepath.Join(nodeModules, e.Name()), prefix+"/lib/node_modules/"+e.Name(), 0); err != nil {
			return imageSpec{}, fmt.Errorf("base image: copy %s: %w", e.Name(), err)
		}
	}
	bins, err := os.ReadDir(filepath.Join(nodeModules, ".bin"))
	if err != nil {
		return imageSpec{}, fmt.Errorf("base image: %w", err)
	}
	for _, b := range bins {
		target, err := os.Readlink(filepath.Join(nodeModules, ".bin", b.Name()))
		if err != nil {
			return imageSpec{}, fmt.Errorf("base image: bin %s: %w", b.Name(), err)
		}
		// ../pkg/dist/index.js relative to node_modules/.bin becomes
		// ../lib/node_modules/pkg/dist/index.js relative to prefix/bin.
		must(l.symlink(prefix+"/bin/"+b.Name(), "../lib/node_modules/"+strings.TrimPrefix(target, "../")))
	}
	// `npx <package>` always asks the registry for the package's metadata
	// first; with this cache (owned by the user, npm writes its index) and
	// offline mode it answers from the cache and then finds the global copy.
	if err := l.tree(cache, npmCache, mcpUID); err != nil {
		return imageSpec{}, fmt.Errorf("base image: npm cache: %w", err)
	}
	return imageSpec{
		layer: l,
		user:  fmt.Sprintf("%d:%d", mcpUID, mcpUID),
		env: []string{
			"PATH=" + prefix + "/bin:/usr/bin:/bin",
			"HOME=/home/mcp",
			"NPM_CONFIG_PREFIX=" + prefix,
			"NPM_CONFIG_CACHE=" + npmCache,
			"NPM_CONFIG_OFFLINE=true",
			"NPM_CONFIG_UPDATE_NOTIFIER=false",
		},
		workdir: "/home/mcp",
	}, nil
}
