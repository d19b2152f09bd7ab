package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// operation is one RFC 6902 operation. Values stay raw JSON slices of the
// mutated object: nothing is decoded into maps and re-encoded.
type operation struct {
	Op    string
	Path  string
	Value []byte
}

// createPatch returns the JSON patch that turns raw (the object as the API
// server sent it) into mutated, leaving out what comes from decoding alone
// rather than from the mutator: removals of fields the mutator's types do
// not know (a newer API server's fields must survive) and additions of
// empty values its encoder writes (creationTimestamp: null, status: {}).
// decoded is raw after the mutator's decode/encode round trip. nil: no change.
//
// It walks the three documents together and only descends into subtrees
// whose bytes differ, so unchanged parts are never decoded. A generic
// diff (gomodules.xyz/jsonpatch, kept as the test oracle) decodes and
// re-encodes whole objects and took 180 µs of a 350 µs review.
func createPatch(raw, decoded, mutated []byte) ([]byte, error) {
	if bytes.Equal(decoded, mutated) {
		return nil, nil
	}
	var ops []operation
	if err := diffValues(raw, mutated, decoded, "", &ops); err != nil {
		return nil, err
	}
	if len(ops) == 0 {
		return nil, nil
	}
	return encodeOps(ops)
}

// encodeOps writes the operations without re-validating the values, which
// are slices of the mutator's own valid JSON.
func encodeOps(ops []operation) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, op := range ops {
		if i > 0 {
			buf.WriteByte(',')
		}
		path, err := json.Marshal(op.Path)
		if err != nil {
			return nil, err
		}
		buf.WriteString(`{"op":"` + op.Op + `","path":`)
		buf.Write(path)
		if op.Op != "remove" {
			buf.WriteString(`,"value":`)
			buf.Write(op.Value)
		}
		buf.WriteByte('}')
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}

func diffValues(a, b, dec json.RawMessage, path string, ops *[]operation) error {
	a, b = bytes.TrimSpace(a), bytes.TrimSpace(b)
	if bytes.Equal(a, b) {
		return nil
	}
	switch {
	case kind(a) == '{' && kind(b) == '{':
		return diffObjects(a, b, dec, path, ops)
	case kind(a) == '[' && kind(b) == '[':
		return diffArrays(a, b, dec, path, ops)
	}
	same, err := jsonEqual(a, b)
	if err != nil {
		return fmt.Errorf("comparing %s: %w", pathOrRoot(path), err)
	}
	if !same {
		*ops = append(*ops, operation{Op: "replace", Path: path, Value: b})
	}
	return nil
}

func diffObjects(a, b, dec json.RawMessage, path string, ops *[]operation) error {
	am, err := objectMembers(a)
	if err != nil {
		return fmt.Errorf("decoding %s: %w", pathOrRoot(path), err)
	}
	bm, err := objectMembers(b)
	if err != nil {
		return fmt.Errorf("decoding mutated %s: %w", pathOrRoot(path), err)
	}
	var dm map[string][]byte // decoded lazily: needed for removals only
	decodedObject := func() map[string][]byte {
		if dm == nil && kind(dec) == '{' {
			dm, _ = objectMembers(dec) // the mutator's own output: well-formed
		}
		return dm
	}
	for _, k := range sortedKeys(am) {
		if _, ok := bm[k]; ok {
			continue
		}
		if _, known := decodedObject()[k]; !known {
			continue // a field the mutator's types do not know: not ours to remove
		}
		*ops = append(*ops, operation{Op: "remove", Path: path + "/" + escape(k)})
	}
	for _, k := range sortedKeys(bm) {
		p := path + "/" + escape(k)
		av, ok := am[k]
		if !ok {
			if !isEmpty(bm[k]) {
				*ops = append(*ops, operation{Op: "add", Path: p, Value: bm[k]})
			}
			continue
		}
		var dv json.RawMessage
		if d := decodedObject(); d != nil {
			dv = d[k]
		}
		if err := diffValues(av, bm[k], dv, p, ops); err != nil {
			return err
		}
	}
	return nil
}

// diffArrays compares element by element: items appended or removed at the
// end, the rest patched in place, so items keep their indexes (and their
// unknown fields).
func diffArrays(a, b, dec json.RawMessage, path string, ops *[]operation) error {
	as, err := members(a)
	if err != nil {
		return fmt.Errorf("decoding %s: %w", pathOrRoot(path), err)
	}
	bs, err := members(b)
	if err != nil {
		return fmt.Errorf("decoding mutated %s: %w", pathOrRoot(path), err)
	}
	var ds []member
	if kind(dec) == '[' {
		ds, _ = members(dec)
	}
	n := min(len(as), len(bs))
	for i := len(as) - 1; i >= n; i-- {
		*ops = append(*ops, operation{Op: "remove", Path: path + "/" + strconv.Itoa(i)})
	}
	for i := 0; i < n; i++ {
		var dv json.RawMessage
		if i < len(ds) {
			dv = ds[i].value
		}
		if err := diffValues(as[i].value, bs[i].value, dv, path+"/"+strconv.Itoa(i), ops); err != nil {
			return err
		}
	}
	for i := n; i < len(bs); i++ {
		*ops = append(*ops, operation{Op: "add", Path: path + "/" + strconv.Itoa(i), Value: bs[i].value})
	}
	return nil
}

// objectMembers maps the unquoted keys of an object to their raw values.
func objectMembers(v []byte) (map[string][]byte, error) {
	ms, err := members(v)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(ms))
	for _, m := range ms {
		key, err := unquote(m.key)
		if err != nil {
			return nil, err
		}
		out[key] = m.value
	}
	return out, nil
}

// unquote decodes a JSON string; keys without escapes skip the decoder.
func unquote(q []byte) (string, error) {
	if bytes.IndexByte(q, '\\') < 0 {
		return string(q[1 : len(q)-1]), nil
	}
	var s string
	err := json.Unmarshal(q, &s)
	return s, err
}

func kind(v json.RawMessage) byte {
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

// isEmpty reports a JSON null, empty array, or object of only empty values:
// absent and empty are the same to the API server.
func isEmpty(v []byte) bool {
	switch kind(v) {
	case 'n':
		return true
	case '[', '{':
		ms, err := members(v)
		if err != nil {
			return false
		}
		if v[0] == '[' {
			return len(ms) == 0
		}
		for _, m := range ms {
			if !isEmpty(m.value) {
				return false
			}
		}
		return true
	}
	return false
}

func jsonEqual(a, b json.RawMessage) (bool, error) {
	var av, bv any
	if err := unmarshalNumbers(a, &av); err != nil {
		return false, err
	}
	if err := unmarshalNumbers(b, &bv); err != nil {
		return false, err
	}
	return reflect.DeepEqual(av, bv), nil
}

func unmarshalNumbers(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func escape(key string) string { return pointerEscaper.Replace(key) }

func pathOrRoot(p string) string {
	if p == "" {
		return "the object"
	}
	return p
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
