package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
)

// createPatch returns the JSON patch that turns raw (the object as the API
// server sent it) into mutated, leaving out every operation that comes from
// decoding alone rather than from the mutator: removals of fields the
// mutator's types do not know (a newer API server's fields) and additions of
// zero values its encoder writes. decoded is raw after a decode/encode round
// trip. nil means no change.
func createPatch(raw, decoded, mutated []byte) ([]byte, error) {
	if bytes.Equal(decoded, mutated) {
		return nil, nil
	}
	ops, err := jsonpatch.CreatePatch(raw, mutated)
	if err != nil {
		return nil, fmt.Errorf("diffing object: %w", err)
	}
	var rawDoc, decodedDoc any
	if err := unmarshalNumbers(raw, &rawDoc); err != nil {
		return nil, fmt.Errorf("decoding raw object: %w", err)
	}
	if err := unmarshalNumbers(decoded, &decodedDoc); err != nil {
		return nil, fmt.Errorf("decoding round-tripped object: %w", err)
	}
	kept := ops[:0]
	for _, op := range ops {
		_, inDecoded := lookup(decodedDoc, op.Path)
		switch op.Operation {
		case "remove":
			if !inDecoded {
				continue // unknown to our types: not ours to remove
			}
		case "add", "replace":
			if _, inRaw := lookup(rawDoc, op.Path); !inRaw {
				if dv, ok := lookup(decodedDoc, op.Path); ok && jsonEqual(dv, op.Value) {
					continue // a zero value the encoder wrote, not a change
				}
			}
		}
		kept = append(kept, op)
	}
	if len(kept) == 0 {
		return nil, nil
	}
	return json.Marshal(kept)
}

func unmarshalNumbers(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

// lookup resolves an RFC 6901 JSON pointer.
func lookup(doc any, pointer string) (any, bool) {
	if pointer == "" {
		return doc, true
	}
	cur := doc
	for _, tok := range strings.Split(pointer[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch node := cur.(type) {
		case map[string]any:
			v, ok := node[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(node) {
				return nil, false
			}
			cur = node[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func jsonEqual(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}
