package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

// FuzzCreatePatch checks the patch builder against the JSON patch library
// the API server applies patches with: for any two objects, applying the
// patch to the first gives the second (up to empty values, which the
// builder leaves out on purpose). Malformed input is an error, never a panic.
func FuzzCreatePatch(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":{"c":[1,2,3]},"d":"x"}`), []byte(`{"a":2,"b":{"c":[1,5]},"e":{"f":null,"g":[{"h":"i"}]}}`))
	f.Add([]byte(`{"k/with~slash":"\u00e9\"q","n":[]}`), []byte(`{"k/with~slash":"other","n":[{}],"z":{"y":{}}}`))
	f.Add([]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"s","x-unknown":true}]}}}}`),
		[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"s","x-unknown":true,"env":[{"name":"A","value":"1"}]}],"initContainers":[{"name":"mcp"}]}}}}`))
	f.Add([]byte(`{"a":1.0,"b":true}`), []byte(`{"a":1e0,"b":false}`))
	f.Add([]byte(`{"a":[1,[2,[3]]]}`), []byte(`{"a":[[2],1]}`))
	f.Add([]byte(`{"unterminated":"`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var av, bv map[string]any
		if json.Unmarshal(a, &av) != nil || json.Unmarshal(b, &bv) != nil {
			_, _ = createPatch(a, a, b) // must not panic
			return
		}
		patch, err := createPatch(a, a, b)
		if err != nil {
			t.Fatalf("valid objects gave an error: %v", err)
		}
		got := a
		if patch != nil {
			p, err := jsonpatch.DecodePatch(patch)
			if err != nil {
				t.Fatalf("patch does not decode: %v\n%s", err, patch)
			}
			if got, err = p.Apply(a); err != nil {
				t.Fatalf("patch does not apply: %v\n%s", err, patch)
			}
		}
		var gv any
		if err := json.Unmarshal(got, &gv); err != nil {
			t.Fatal(err)
		}
		if want := dropEmpty(bv); !reflect.DeepEqual(dropEmpty(gv), want) {
			t.Fatalf("patched object differs\npatch: %s\ngot:  %s\nwant: %s", patch, got, b)
		}
	})
}

// dropEmpty removes object members whose value is empty in the sense of
// isEmpty, recursively.
func dropEmpty(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			e = dropEmpty(e)
			data, _ := json.Marshal(e)
			if !isEmpty(data) {
				out[k] = e
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = dropEmpty(e)
		}
		return out
	}
	return v
}

// FuzzReview sends arbitrary bodies to /mutate and /validate: every answer
// is a well-formed HTTP response, and a 200 carries an AdmissionReview.
func FuzzReview(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","kind":{"group":"apps","version":"v1","kind":"Deployment"},"operation":"CREATE","object":{"metadata":{"name":"x"}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","object":[1]}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`))
	f.Add([]byte(`not json`))
	s := New(Options{Mutator: echo{}, Validator: echo{}})
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{"/mutate", "/validate"} {
			req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			switch rec.Code {
			case http.StatusOK:
				var out map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out["response"] == nil {
					t.Fatalf("200 without an AdmissionReview: %s", rec.Body.String())
				}
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			default:
				t.Fatalf("unexpected status %d: %s", rec.Code, rec.Body.String())
			}
		}
	})
}
