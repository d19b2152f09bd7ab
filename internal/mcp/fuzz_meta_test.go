package mcp

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// FuzzHeaderValue: any text encodes to a header value net/http sends as it
// is (visible ASCII, no surrounding whitespace to be trimmed) that decodes
// back to the text; any header value either decodes to a text that
// re-encodes to an equivalent value, or is refused for a reason (a control
// or non-ASCII byte, or a sentinel that is not Base64).
func FuzzHeaderValue(f *testing.F) {
	for _, s := range []string{
		"us-west1", "Hello, 世界", " padded ", "line1\nline2", "=?base64?literal?=", "=?base64?SGVsbG8=?=",
		"=?base64?=", "=?base64??=", "=?base64?!!!?=", "tab\tinside", "\x7f", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := EncodeHeaderValue(s)
		if !printableOrTab(enc) || (enc != "" && (enc[0] == ' ' || enc[0] == '\t' || enc[len(enc)-1] == ' ' || enc[len(enc)-1] == '\t')) {
			t.Fatalf("%q encodes to %q, which a header cannot carry unchanged", s, enc)
		}
		if back, ok := DecodeHeaderValue(enc); !ok || back != s {
			t.Fatalf("%q encodes to %q, which decodes to %q (%v)", s, enc, back, ok)
		}

		dec, ok := DecodeHeaderValue(s)
		if !ok {
			if !isSentinel(s) && printableOrTab(s) {
				t.Fatalf("refused a plain visible value %q", s)
			}
			return
		}
		if again, ok := DecodeHeaderValue(EncodeHeaderValue(dec)); !ok || again != dec {
			t.Fatalf("%q decodes to %q, which re-encodes to a value decoding to %q", s, dec, again)
		}
	})
}

func isSentinel(s string) bool {
	return len(s) >= len(sentinelPrefix)+len(sentinelSuffix) && s[:len(sentinelPrefix)] == sentinelPrefix && s[len(s)-len(sentinelSuffix):] == sentinelSuffix
}

func printableOrTab(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '\t' && (c < 0x20 || c > 0x7e) {
			return false
		}
	}
	return true
}

// FuzzParseMeta compares ParseMeta, which reads _meta from the raw bytes
// without decoding the request, with encoding/json on the same params
// (exact keys, the last of duplicates): both accept the same requests and
// read the same values, so a request cannot show the gateway one _meta and
// the server another. A refusal is -32602 with status 400.
func FuzzParseMeta(f *testing.F) {
	for _, s := range []string{
		`{` + validMeta + `}`,
		`{"name":"echo",` + validMeta + `}`,
		`{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/logLevel":"debug"}}`,
		`{"_meta":{"io.modelcontextprotocol/protocolVersion":"a","io.modelcontextprotocol/protocolVersion":"","io.modelcontextprotocol/clientCapabilities":{}}}`,
		`{"\u005fmeta":{"io.modelcontextprotocol\/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}`,
		`{"_META":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}`,
		`{"_meta":{"io.modelcontextprotocol/protocolVersion":null,"io.modelcontextprotocol/clientCapabilities":[]}}`,
		`{"_meta":{"io.modelcontextprotocol/protocolVersion":"x","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":null}}`,
		`{"_meta":null}`, `[]`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, params []byte) {
		if !json.Valid(params) {
			return // every message passed Decode first
		}
		got, v := ParseMeta(params)
		want, ok := parseMetaWithDecoder(params)
		if v != nil {
			if v.Code != CodeInvalidParams || v.Status != http.StatusBadRequest || !json.Valid(v.Response(json.RawMessage(`1`))) {
				t.Fatalf("bad violation %+v", v)
			}
			if ok {
				t.Fatalf("refused %s (%s), which encoding/json reads as %+v", params, v.Message, want)
			}
			return
		}
		if !ok {
			t.Fatalf("accepted %s as %+v, which encoding/json refuses", params, got)
		}
		if got.ProtocolVersion != want.ProtocolVersion || got.LogLevel != want.LogLevel ||
			!bytes.Equal(got.ClientCapabilities, want.ClientCapabilities) || !bytes.Equal(got.ClientInfo, want.ClientInfo) {
			t.Fatalf("%s: read %+v, encoding/json reads %+v", params, got, want)
		}
	})
}

// parseMetaWithDecoder is ParseMeta's rules on top of encoding/json.
func parseMetaWithDecoder(params []byte) (RequestMeta, bool) {
	var top, meta map[string]json.RawMessage
	if json.Unmarshal(params, &top) != nil || top == nil || !isObject(top["_meta"]) || json.Unmarshal(top["_meta"], &meta) != nil {
		return RequestMeta{}, false
	}
	var m RequestMeta
	if json.Unmarshal(meta[api.MetaProtocolVersion], &m.ProtocolVersion) != nil || m.ProtocolVersion == "" {
		return RequestMeta{}, false
	}
	if m.ClientCapabilities = meta[api.MetaClientCapabilities]; !isObject(m.ClientCapabilities) {
		return RequestMeta{}, false
	}
	if ci, found := meta[api.MetaClientInfo]; found {
		if !isObject(ci) {
			return RequestMeta{}, false
		}
		m.ClientInfo = ci
	}
	if ll, found := meta[api.MetaLogLevel]; found {
		if json.Unmarshal(ll, &m.LogLevel) != nil || !slices.Contains(LogLevels, m.LogLevel) {
			return RequestMeta{}, false
		}
	}
	return m, true
}

func isObject(raw json.RawMessage) bool { return len(raw) > 0 && raw[0] == '{' }
