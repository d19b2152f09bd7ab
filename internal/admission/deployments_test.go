package admission_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gomodules "gomodules.xyz/jsonpatch/v2"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/injector"
)

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

func admit(t *testing.T, h http.Handler, path string, body []byte) *admissionv1.AdmissionResponse {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var review admissionv1.AdmissionReview
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &review))
	return review.Response
}

func TestDeploymentsThroughTheHandler(t *testing.T) {
	t.Parallel()
	h := newHandler(t)
	tests := []struct {
		name, input, path string
		op                admissionv1.Operation
		allowed, patched  bool
		message           string
	}{
		{"create is injected", "../../injector/testdata/stdio-base-image.yaml", "/mutate", admissionv1.Create, true, true, ""},
		{"update is injected", "../../injector/testdata/streamable-http.yaml", "/mutate", admissionv1.Update, true, true, ""},
		{"delete is ignored", "../../injector/testdata/stdio-base-image.yaml", "/mutate", admissionv1.Delete, true, false, ""},
		{"bad annotations denied by mutate", "../../injector/testdata/bad-annotations.yaml", "/mutate", admissionv1.Create, false, false, "mcp.archestra.io/transport"},
		{"bad annotations denied by validate", "../../injector/testdata/bad-annotations.yaml", "/validate", admissionv1.Create, false, false, "mcp.archestra.io/max-sessions"},
		{"good annotations validate", "../../injector/testdata/secret-env.yaml", "/validate", admissionv1.Create, true, false, ""},
		{"unlabelled is untouched", "../../injector/testdata/not-labelled.yaml", "/mutate", admissionv1.Create, true, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := admit(t, h, tt.path, reviewOf(t, tt.input, tt.op))
			assert.Equal(t, tt.allowed, resp.Allowed)
			assert.Equal(t, tt.patched, resp.Patch != nil)
			if tt.message != "" {
				require.NotNil(t, resp.Result)
				assert.Equal(t, int32(422), resp.Result.Code)
				assert.Contains(t, resp.Result.Message, tt.message)
			}
		})
	}
}

// TestPatchKeepsFieldsUnknownToUs plays a newer API server: the object has
// fields our k8s.io/api version does not know. For every golden input the
// patch, applied as the API server applies it, gives the injected object
// and keeps those fields.
func TestPatchKeepsFieldsUnknownToUs(t *testing.T) {
	t.Parallel()
	h := newHandler(t)
	cfg, err := injector.LoadConfig("../../injector/testdata/config.yaml")
	require.NoError(t, err)
	in := injector.New(cfg)
	inputs, err := filepath.Glob("../../injector/testdata/*.yaml")
	require.NoError(t, err)
	tested := 0
	for _, input := range inputs {
		if strings.HasSuffix(input, ".golden.yaml") || strings.HasSuffix(input, "config.yaml") {
			continue
		}
		data, err := os.ReadFile(input)
		require.NoError(t, err)
		var d appsv1.Deployment
		require.NoError(t, yaml.Unmarshal(data, &d))
		want := d.DeepCopy()
		if _, errs := in.Inject(want); len(errs) > 0 || want.Labels[api.ServerLabel] == "" {
			continue
		}
		tested++
		t.Run(filepath.Base(input), func(t *testing.T) {
			t.Parallel()
			var doc map[string]any
			raw, _ := json.Marshal(&d)
			mutated, _ := json.Marshal(want)
			checkAgainstOracle(t, h, raw, mutated)
			require.NoError(t, json.Unmarshal(raw, &doc))
			spec := doc["spec"].(map[string]any)
			spec["futureSpecField"] = map[string]any{"a": []any{"b"}}
			pod := spec["template"].(map[string]any)["spec"].(map[string]any)
			pod["futurePodField"] = true
			pod["containers"].([]any)[0].(map[string]any)["futureContainerField"] = "kept"
			raw, _ = json.Marshal(doc)

			body, _ := json.Marshal(admissionv1.AdmissionReview{
				TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
				Request: &admissionv1.AdmissionRequest{UID: "7", Kind: metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
					Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw}},
			})
			resp := admit(t, h, "/mutate", body)
			require.True(t, resp.Allowed)
			patch, err := jsonpatch.DecodePatch(resp.Patch)
			require.NoError(t, err)
			patched, err := patch.Apply(raw)
			require.NoError(t, err)

			var got appsv1.Deployment
			require.NoError(t, json.Unmarshal(patched, &got))
			assert.True(t, apiequality.Semantic.DeepEqual(want, &got), "patched object differs from the injected one")
			for _, field := range []string{`"futureSpecField":{"a":["b"]}`, `"futurePodField":true`, `"futureContainerField":"kept"`} {
				assert.Contains(t, string(patched), field)
			}
		})
	}
	require.GreaterOrEqual(t, tested, 15)
}

// checkAgainstOracle compares the webhook's patch with the one the generic
// gomodules.xyz/jsonpatch diff makes: applied to the same object, both give
// the same Deployment.
func checkAgainstOracle(t *testing.T, h http.Handler, raw, mutated []byte) {
	t.Helper()
	ops, err := gomodules.CreatePatch(raw, mutated)
	require.NoError(t, err)
	oraclePatch, err := json.Marshal(ops)
	require.NoError(t, err)
	body, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "7", Kind: metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
			Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw}},
	})
	ours := admit(t, h, "/mutate", body).Patch
	apply := func(patch []byte) *appsv1.Deployment {
		p, err := jsonpatch.DecodePatch(patch)
		require.NoError(t, err)
		out, err := p.Apply(raw)
		require.NoError(t, err)
		var d appsv1.Deployment
		require.NoError(t, json.Unmarshal(out, &d))
		return &d
	}
	assert.True(t, apiequality.Semantic.DeepEqual(apply(oraclePatch), apply(ours)), "our patch and the oracle's disagree")
	assert.Less(t, len(ours), len(oraclePatch)+1, "our patch is never larger than the generic one")
}

// The gateway's hibernation record is bookkeeping: an update that changes
// nothing else is let through as it is, never re-injected (here the stored
// object's injection is stale, as after a platform config change) and never
// denied; any other change in the same update is injected as always.
func TestGatewayBookkeepingIsNotReinjected(t *testing.T) {
	t.Parallel()
	h := newHandler(t)
	data, err := os.ReadFile("../../injector/testdata/stdio-base-image.yaml")
	require.NoError(t, err)
	var old appsv1.Deployment
	require.NoError(t, yaml.Unmarshal(data, &old))
	record := api.EncodeHibernation(api.Hibernation{State: api.HibernationHibernated, Replicas: 1,
		Since: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Cause: api.CauseIdle})
	update := func(change func(d *appsv1.Deployment)) []byte {
		d := old.DeepCopy()
		change(d)
		oldRaw, _ := json.Marshal(&old)
		raw, _ := json.Marshal(d)
		body, _ := json.Marshal(admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Request: &admissionv1.AdmissionRequest{UID: "7", Kind: metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
				Operation: admissionv1.Update, Object: runtime.RawExtension{Raw: raw}, OldObject: runtime.RawExtension{Raw: oldRaw}},
		})
		return body
	}
	for _, tt := range []struct {
		name             string
		change           func(d *appsv1.Deployment)
		allowed, patched bool
	}{
		{"record written", func(d *appsv1.Deployment) { d.Annotations[api.AnnHibernation] = record }, true, false},
		{"nothing changed", func(*appsv1.Deployment) {}, true, true},
		{"record and image changed", func(d *appsv1.Deployment) {
			d.Annotations[api.AnnHibernation] = record
			d.Spec.Template.Spec.Containers[0].Image = "other:1"
		}, true, true},
		{"record and a user annotation", func(d *appsv1.Deployment) {
			d.Annotations[api.AnnHibernation] = record
			d.Annotations["team"] = "a"
		}, true, true},
		{"unreadable record", func(d *appsv1.Deployment) { d.Annotations[api.AnnHibernation] = "{" }, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := update(tt.change)
			resp := admit(t, h, "/mutate", body)
			assert.Equal(t, tt.allowed, resp.Allowed)
			assert.Equal(t, tt.patched, resp.Patch != nil)
			assert.Equal(t, tt.allowed, admit(t, h, "/validate", body).Allowed)
		})
	}
}
