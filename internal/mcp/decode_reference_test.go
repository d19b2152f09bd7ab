package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The one-pass decoder (scan.go) must read every message as the
// encoding/json decoder it replaced did: the same kind, id, method, params
// and error code, for anything at all. decodeOneReference is that decoder.

type referenceEnvelope struct {
	JSONRPC *string         `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  *string         `json:"method"`
	Params  json.RawMessage `json:"params"`
	Result  json.RawMessage `json:"result"`
	Error   json.RawMessage `json:"error"`
}

func decodeOneReference(data []byte) (*Message, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		if json.Valid(data) {
			return nil, &DecodeError{Code: CodeInvalidRequest, Err: errors.New("message is not a JSON object")}
		}
		return nil, &DecodeError{Code: CodeParseError, Err: errors.New("invalid JSON")}
	}
	var env referenceEnvelope
	if err := json.Unmarshal(data, &env); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, &DecodeError{Code: CodeParseError, Err: fmt.Errorf("invalid JSON: %w", err)}
		}
		return nil, &DecodeError{Code: CodeInvalidRequest, Err: fmt.Errorf("invalid message: %w", err)}
	}
	hasID := len(env.ID) > 0
	invalid := func(msg string) error {
		de := &DecodeError{Code: CodeInvalidRequest, Err: errors.New(msg)}
		if hasID && validID(env.ID, true) {
			de.ID = env.ID
		}
		return de
	}
	if env.JSONRPC == nil || *env.JSONRPC != "2.0" {
		return nil, invalid(`"jsonrpc" must be "2.0"`)
	}
	m := &Message{Raw: data, Params: env.Params}
	switch {
	case env.Method != nil:
		if len(env.Result) > 0 || len(env.Error) > 0 {
			return nil, invalid("a message cannot have both method and result/error")
		}
		if *env.Method == "" {
			return nil, invalid("empty method")
		}
		m.Method = *env.Method
		if p := bytes.TrimSpace(env.Params); len(p) > 0 && p[0] != '{' && p[0] != '[' {
			return nil, invalid("params must be an object or an array")
		}
		if !hasID {
			m.Kind = KindNotification
			return m, nil
		}
		// MCP forbids null request ids even though JSON-RPC allows them.
		if !validID(env.ID, false) {
			return nil, invalid("request id must be a string or a number")
		}
		m.Kind = KindRequest
		m.ID = env.ID
		return m, nil
	case len(env.Result) > 0 || len(env.Error) > 0:
		if len(env.Result) > 0 && len(env.Error) > 0 {
			return nil, invalid("a response cannot have both result and error")
		}
		if !hasID || !validID(env.ID, true) {
			return nil, invalid("response id must be a string, a number or null")
		}
		m.Kind = KindResponse
		m.ID = env.ID
		m.IsError = len(env.Error) > 0
		return m, nil
	}
	return nil, invalid("message has neither method nor result nor error")
}

// sameDecoding fails t unless DecodeOne and the reference agree on data.
func sameDecoding(t *testing.T, data []byte) {
	t.Helper()
	got, gotErr := DecodeOne(data)
	want, wantErr := decodeOneReference(data)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%q: error %v, encoding/json: %v", data, gotErr, wantErr)
	}
	if wantErr != nil {
		var g, w *DecodeError
		require.True(t, errors.As(gotErr, &g))
		require.True(t, errors.As(wantErr, &w))
		assert.Equal(t, w.Code, g.Code, "%q: %v / %v", data, gotErr, wantErr)
		assert.Equal(t, string(w.ID), string(g.ID), "%q", data)
		return
	}
	assert.Equal(t, fmt.Sprintf("%v %q %q %q %v %q", want.Kind, want.ID, want.Method, want.Params, want.IsError, want.Raw),
		fmt.Sprintf("%v %q %q %q %v %q", got.Kind, got.ID, got.Method, got.Params, got.IsError, got.Raw), "%q", data)
}

var decodeCases = []string{
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"a":[1,2.5e3,-0.1,true,false,null,"\u00e9\n"]}}}`,
	`{"jsonrpc":"2.0","id":"a","result":{"content":[]}}`,
	`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}`,
	`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
	` {"jsonrpc" : "2.0" , "id" : 1 , "method" : "x" } `,
	`{"JSONRPC":"2.0","ID":1,"Method":"x"}`,              // encoding/json matches up to case
	`{"jsonrpc":"2.0","id":1,"method":"x","paramſ":{}}`,  // and folds the long s
	`{"jsonrpc":"2.0","id":1,"method":"a","method":"b"}`, // the last one wins
	`{"jsonrpc":"2.0","id":1,"method":"a","method":null}`,
	`{"jsonrpc":"2.0","id":1,"method":5}`,
	`{"jsonrpc":"2.0","id":1,"method":5,"x":}`, // a syntax error wins over a type error
	`{"jsonrpc":"2\u002e0","id":1,"m\u0065thod":"x"}`,
	`{"jsonrpc":"2.0","id":1,"method":"x\ud800"}`,
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\xff\"}",
	`{"jsonrpc":"2.0","id":1,"method":"x"} x`,
	`{"jsonrpc":"2.0","id":1,"method":"x",}`,
	`{"jsonrpc":"2.0","id":01,"method":"x"}`,
	`{"jsonrpc":"2.0","id":1.,"method":"x"}`,
	`{"jsonrpc":"2.0","id":-,"method":"x"}`,
	`{"jsonrpc":"2.0","id":1e,"method":"x"}`,
	`{"jsonrpc":"2.0","id":tru,"method":"x"}`,
	`{"jsonrpc":"2.0","id":"a` + "\t" + `b","method":"x"}`,
	`{"jsonrpc":"2.0","id":"\x","method":"x"}`,
	`{"jsonrpc":"2.0","id":"\u12","method":"x"}`,
	`{"jsonrpc":"2.0","id":1,"method":"x","params":[{"a":{}},[],[[]],{"b":[{}]}]}`,
	`{"jsonrpc":"2.0","id":1,"method":"x","params":{"NAME":"a","nAme":"b","x":{}}}`,
	`{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":{},"na\u006de":"c"}}`,
	`{"jsonrpc":"2.0","id":1,"method":"x","params":{}}`,
	`{"jsonrpc":"2.0","id":1,"method":"x","params":{"_meta":3}}`,
	`{"jsonrpc":"2.0","id":1,"result":{"_meta":{"a":1},"resultType":"x"}}`,
	`{"jsonrpc":"2.0","id":1,"method":"x","params":[1 2]}`,
	`{"jsonrpc":"2.0","id":1,"method":"x","params":{"a" 1}}`,
	`{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":1]}`,
	`{"jsonrpc":"2.0","id":1,"method":"x","params":[}`,
	`{}`, `{`, `{"a"}`, `{"a":}`, `{,}`, `{"a":1,,"b":2}`, `[]`, `"x"`, ``,
}

func TestDecodeOneMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, c := range decodeCases {
		sameDecoding(t, []byte(c))
		if m, err := DecodeOne([]byte(c)); err == nil {
			sameSet(t, m)
			sameFoldLookup(t, m)
		}
	}
	// The outer object counts: params may nest one level less deep.
	for _, depth := range []int{maxNesting - 1, maxNesting} {
		msg := []byte(`{"jsonrpc":"2.0","method":"x","params":`)
		msg = append(msg, bytes.Repeat([]byte("["), depth)...)
		msg = append(msg, bytes.Repeat([]byte("]"), depth)...)
		sameDecoding(t, append(msg, '}'))
		_, err := DecodeOne(append(msg, '}'))
		assert.Equal(t, depth == maxNesting, err != nil, "depth %d", depth)
	}
}

// setReference is Set as it was, splicing level by level.
func setReference(raw []byte, val []byte, path ...string) ([]byte, error) {
	if len(path) == 0 {
		return append([]byte(nil), val...), nil
	}
	raw = bytes.TrimSpace(raw)
	ms, err := members(raw)
	if err != nil {
		return nil, fmt.Errorf("setting %q: %w", path[0], err)
	}
	i := lastMember(ms, path[0])
	if i < 0 {
		inner := val
		for j := len(path) - 1; j >= 1; j-- {
			inner = objectOf(path[j], inner)
		}
		return insertMemberReference(raw, ms, path[0], inner), nil
	}
	m := ms[i]
	inner, err := setReference(raw[m.valStart:m.valEnd], val, path[1:]...)
	if err != nil {
		return nil, err
	}
	return splice(raw, m.valStart, m.valEnd, inner), nil
}
func insertMemberReference(obj []byte, ms []member, key string, val []byte) []byte {
	k, _ := json.Marshal(key) // a string always encodes
	closing := bytes.LastIndexByte(obj, '}')
	add := make([]byte, 0, len(k)+len(val)+2)
	if len(ms) > 0 {
		add = append(add, ',')
	}
	add = append(add, k...)
	add = append(add, ':')
	add = append(add, val...)
	return splice(obj, closing, closing, add)
}

// setPaths are the edits the bridge and the gateway make.
var setPaths = [][]string{{"id"}, {"params", "_meta", "progressToken"}, {"params", "requestId"}, {"result", "resultType"}, {"result", "_meta", "x"}}

// sameSet fails t unless Set and setReference agree on every edit of a
// decoded message.
func sameSet(t *testing.T, m *Message) {
	t.Helper()
	for _, path := range setPaths {
		got, gotErr := Set(m.Raw, []byte(`"v"`), path...)
		want, wantErr := setReference(m.Raw, []byte(`"v"`), path...)
		assert.Equal(t, wantErr == nil, gotErr == nil, "%q %v: %v / %v", m.Raw, path, gotErr, wantErr)
		assert.Equal(t, string(want), string(got), "%q %v", m.Raw, path)
	}
}

// FuzzDecodeOneMatchesEncodingJSON compares the decoders, and the scanner
// with json.Valid, on anything.
func FuzzDecodeOneMatchesEncodingJSON(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if validJSON(data) != json.Valid(data) {
			t.Fatalf("%q: valid %v, json.Valid %v", data, validJSON(data), json.Valid(data))
		}
		sameDecoding(t, data)
		if m, err := DecodeOne(data); err == nil {
			sameSet(t, m)
			sameFoldLookup(t, m)
		}
	})
}

// BenchmarkDecodeOne is a legacy tools/call and a 2026-07-28 one, as the
// sidecar reads every POST and every line of its servers, against the
// encoding/json decoder it replaced.
//
//	go test ./internal/mcp -run '^$' -bench DecodeOne -benchmem
func BenchmarkDecodeOne(b *testing.B) {
	for name, msg := range map[string]string{
		"legacy": `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}`,
		"modern": `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"roots":{"listChanged":true}},` +
			`"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"test"},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"echo","arguments":{"text":"hello"}}}`,
		"result": `{"jsonrpc":"2.0","id":2,"result":{"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"x","version":"test"}},"content":[{"type":"text","text":"x: hello"}],"resultType":"complete"}}`,
	} {
		for impl, decode := range map[string]func([]byte) (*Message, error){"scan": DecodeOne, "encoding-json": decodeOneReference} {
			b.Run(name+"/"+impl, func(b *testing.B) {
				b.ReportAllocs()
				data := []byte(msg)
				for range b.N {
					if _, err := decode(data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// sameFoldLookup fails t unless LookupFold reads a member of params as a
// decoder into a struct does.
func sameFoldLookup(t *testing.T, m *Message) {
	t.Helper()
	var v struct {
		Name json.RawMessage `json:"name"`
	}
	if json.Unmarshal(m.Params, &v) != nil {
		return
	}
	assert.Equal(t, string(v.Name), string(LookupFold(m.Params, "name")), "%q", m.Params)
}
