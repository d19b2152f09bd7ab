package toolfilter

import (
	"bytes"
	"encoding/json"
	"strings"
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

// FuzzFoldCollision checks the byte scanner against encoding/json's own
// tokenizer on every valid JSON object: same keys, so the same verdict.
func FuzzFoldCollision(f *testing.F) {
	for _, s := range []string{`{"a":1,"A":2}`, `{"p\u0061rams":{},"paramſ":[1,"}"]}`, `{"x":{"y":"\"}"},"x":null}`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		if !json.Valid(obj) {
			return
		}
		assert.Equal(t, decoderFoldCollision(obj), foldCollision(obj), "%s", obj)
	})
}

// decoderFoldCollision is the reference: keys listed by json.Decoder.
func decoderFoldCollision(obj []byte) string {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		k := t.(string)
		for _, prev := range keys {
			if strings.EqualFold(prev, k) {
				return k
			}
		}
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}
