package toolfilter

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Keys that encoding/json would read as one, but other parsers as two,
// make a message ambiguous: the allow-list could see another tool than the
// server runs.
func TestFoldCollision(t *testing.T) {
	t.Parallel()
	tests := []struct{ body, want string }{
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}`, ""},
		{`{"method":"tools/list","Method":"tools/call"}`, "Method"},
		{`{"params":{"name":"evil"},"paramſ":{"name":"allowed"}}`, "paramſ"}, // U+017F folds to s
		{`{"name":"evil","name":"allowed"}`, "name"},                         // exact duplicate
		{`{"K":1,"\u212a":2}`, "\u212a"},                                     // Kelvin sign folds to K
		{`{"a":{"b":1,"B":2}}`, ""},                                          // nested objects are the params check's job
		{`not json`, ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, foldCollision([]byte(tt.body)), tt.body)
	}
}
