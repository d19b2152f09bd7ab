package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecode checks that Decode never panics, that every error is a
// *DecodeError with a JSON-RPC code whose response is valid JSON, and that
// every decoded message keeps its exact bytes and a consistent kind.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}`,
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":0.5}}`,
		`{"jsonrpc":"2.0","id":"x","result":{}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"ping"}]`,
		`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}`,
		`{`, `[]`, `null`,
	} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, batch bool) {
		msgs, _, err := Decode(data, batch)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
			if de.Code != CodeParseError && de.Code != CodeInvalidRequest {
				t.Fatalf("unexpected code %d", de.Code)
			}
			if !json.Valid(DecodeErrorResponse(err)) {
				t.Fatal("error response is not valid JSON")
			}
			return
		}
		if len(msgs) == 0 {
			t.Fatal("no messages and no error")
		}
		for _, m := range msgs {
			if !json.Valid(m.Raw) {
				t.Fatal("raw message is not valid JSON")
			}
			if !bytes.Contains(data, m.Raw) && len(msgs) == 1 {
				t.Fatal("raw message is not a slice of the input")
			}
			switch m.Kind {
			case KindRequest:
				if m.Method == "" || len(m.ID) == 0 {
					t.Fatal("request without method or id")
				}
			case KindNotification:
				if m.Method == "" || len(m.ID) != 0 {
					t.Fatal("bad notification")
				}
			case KindResponse:
				if m.Method != "" || len(m.ID) == 0 {
					t.Fatal("bad response")
				}
			default:
				t.Fatalf("unknown kind %v", m.Kind)
			}
			if m.Kind == KindRequest || m.Kind == KindResponse {
				if _, err := Set(m.Raw, json.RawMessage(`"r"`), "id"); err != nil {
					t.Fatalf("Set(id) on a valid message: %v", err)
				}
			}
		}
	})
}
