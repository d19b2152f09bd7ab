// Package structure holds tests that guard the shape of the tree: short
// functions in the request paths, and the import graph around the pure
// injector and the contract package.
package structure

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/archestra-ai/mcp-orchestrator"

// maxFuncLines bounds a function's length in the request-path packages, so
// each reads as the steps of what it does.
const maxFuncLines = 60

func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	return dir
}

// goFiles lists the non-test Go files under dir (relative to the root).
func goFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join(root(t), dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			files = append(files, p)
		}
		return nil
	})
	require.NoError(t, err)
	return files
}

func TestRequestPathFunctionsAreShort(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"transport", "gateway", "webhook"} {
		for _, file := range goFiles(t, dir) {
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, file, nil, 0)
			require.NoError(t, err)
			for _, decl := range f.Decls {
				fn, ok := decl.(*ast.FuncDecl)
				if !ok || fn.Body == nil {
					continue
				}
				lines := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
				rel, _ := filepath.Rel(root(t), file)
				assert.LessOrEqual(t, lines, maxFuncLines, "%s: func %s has %d lines", rel, fn.Name.Name, lines)
			}
		}
	}
}

// The injector is pure and reached only through the webhook's admission
// wiring and `mcpctl inject`; the contract package imports nothing of ours
// (and nothing outside the standard library).
func TestImportGraph(t *testing.T) {
	t.Parallel()
	allowedInjector := map[string]bool{"internal/admission": true, "cmd/mcpctl": true, "cmd/mcp-webhook": true, "injector": true}
	for _, file := range goFiles(t, ".") {
		rel, _ := filepath.Rel(root(t), file)
		if strings.HasPrefix(rel, "tools/") || strings.HasPrefix(rel, "examples/") {
			continue // their own modules
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
		require.NoError(t, err)
		pkg := filepath.Dir(rel)
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path == module+"/injector" {
				assert.True(t, allowedInjector[pkg], "%s imports the injector", rel)
			}
			if pkg == "api" {
				assert.NotContains(t, path, ".", "%s: the contract package imports only the standard library, not %s", rel, path)
			}
		}
	}
}

// Nothing but the contract package spells the label prefix or the MCP
// session header in code (tests and comments aside).
func TestContractIsSpelledOnce(t *testing.T) {
	t.Parallel()
	for _, file := range goFiles(t, ".") {
		rel, _ := filepath.Rel(root(t), file)
		if strings.HasPrefix(rel, "api/") || strings.HasPrefix(rel, "tools/") || strings.HasPrefix(rel, "examples/") {
			continue
		}
		src, err := os.ReadFile(file)
		require.NoError(t, err)
		f, err := parser.ParseFile(token.NewFileSet(), file, src, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			v, _ := strconv.Unquote(lit.Value)
			for _, word := range []string{"mcp.archestra.io/", "Mcp-Session-Id", "Mcp-Protocol-Version"} {
				assert.NotContains(t, v, word, "%s spells %q: use package api", rel, word)
			}
			return true
		})
	}
}
