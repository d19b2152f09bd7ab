package virtual

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// FuzzParseDefinition: any document is read without panicking; a valid
// one reads back the same once written out, and its name mapping has no
// collisions: for any names its members offer, every exposed name is
// unique and resolves back to its member and name. Seeds:
// testdata/definitions and testdata/fuzz/FuzzParseDefinition.
//
//	go test ./gateway/virtual -run '^$' -fuzz '^FuzzParseDefinition$' -fuzztime 60s
func FuzzParseDefinition(f *testing.F) {
	files, _ := filepath.Glob("testdata/definitions/*.yaml")
	for _, file := range files {
		if doc, err := os.ReadFile(file); err == nil {
			f.Add(doc, "echo,get-sum,a__b,__x,x__,,ev__echo")
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte, offered string) {
		def, problems := ParseDefinition(doc)
		if len(problems) > 0 {
			return
		}
		again, ps := api.ParseVirtualServer(mustMarshal(t, def))
		if len(ps) > 0 {
			t.Fatalf("a valid definition written out is refused: %v", ps)
		}
		if b1, b2 := mustMarshal(t, def), mustMarshal(t, again); string(b1) != string(b2) {
			t.Fatalf("read back differently:\n%s\n%s", b1, b2)
		}
		names := strings.Split(offered, ",")
		slices.Sort(names)
		checkNames(t, newServer("ns", "v", def), slices.Compact(names)) // a server's names are unique
	})
}

func checkNames(t *testing.T, s *Server, names []string) {
	for _, kind := range []string{kindTool, kindPrompt} {
		seen := map[string]string{}
		for _, m := range s.Members {
			for _, n := range names {
				if n == "" {
					continue
				}
				exposed, ok := m.Expose(kind, n)
				if !ok {
					continue
				}
				if other, dup := seen[exposed]; dup {
					t.Fatalf("%s %q is both %s and %s/%s", kind, exposed, other, m.Server, n)
				}
				seen[exposed] = m.Server + "/" + n
				back, orig, ok := s.Resolve(kind, exposed)
				if !ok || back != m || orig != n {
					t.Fatalf("%s %q (%s/%s) does not resolve back", kind, exposed, m.Server, n)
				}
			}
		}
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
