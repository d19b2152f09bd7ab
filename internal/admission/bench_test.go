package admission_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/archestra-ai/mcp-orchestrator/injector"
	"github.com/archestra-ai/mcp-orchestrator/internal/admission"
	"github.com/archestra-ai/mcp-orchestrator/webhook"
)

func newHandler(t testing.TB) http.Handler {
	t.Helper()
	cfg, err := injector.LoadConfig("../../injector/testdata/config.yaml")
	require.NoError(t, err)
	d := admission.Deployments{Injector: injector.New(cfg), Secrets: allSecretsExist{}}
	// Logs are formatted as in production, then dropped.
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	return webhook.New(webhook.Options{Mutator: d, Validator: d, Logger: log}).Handler()
}

// reviewOf wraps a golden-test input in an AdmissionReview, as the API
// server sends it.
func reviewOf(t testing.TB, input string, op admissionv1.Operation) []byte {
	t.Helper()
	data, err := readFile(input)
	require.NoError(t, err)
	var d appsv1.Deployment
	require.NoError(t, yaml.Unmarshal(data, &d))
	d.Namespace = "bench"
	raw, err := json.Marshal(&d)
	require.NoError(t, err)
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: "bench", Kind: metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
			Operation: op, Namespace: "bench", Name: d.Name, Object: runtime.RawExtension{Raw: raw},
		},
	})
	require.NoError(t, err)
	return body
}

// BenchmarkMutateReview measures whole /mutate reviews (decode, inject,
// patch, encode) through the HTTP handler, without TLS. Run with -cpu 1 for
// reviews per second on one core.
func BenchmarkMutateReview(b *testing.B) {
	for _, bc := range []struct{ name, input string }{
		{"create-stdio", "../../injector/testdata/secret-env.yaml"},
		{"create-http-headers", "../../injector/testdata/streamable-http-request-headers.yaml"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := newHandler(b)
			body := reviewOf(b, bc.input, admissionv1.Create)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/mutate", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"patch"`)) {
					b.Fatalf("unexpected answer %d: %s", rec.Code, rec.Body.String())
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reviews/s")
		})
	}
}

// allSecretsExist answers like a synced Secret cache in which every
// referenced Secret exists: the lookup is paid, no warning is made.
type allSecretsExist struct{}

func (allSecretsExist) SecretExists(string, string) (bool, bool) { return true, true }
