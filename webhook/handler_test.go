package webhook_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/archestra-ai/mcp-orchestrator/certs"
	"github.com/archestra-ai/mcp-orchestrator/webhook"
)

// setLabel is a minimal mutator working through a typed round trip, like
// the real one: it decodes into a struct that knows only metadata and spec,
// so any other field of the raw object is unknown to it.
type setLabel struct{}

type object struct {
	Metadata struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Items []map[string]string `json:"items,omitempty"`
	} `json:"spec"`
}

func (setLabel) Mutate(_ context.Context, r *webhook.Request) (*webhook.Mutation, error) {
	var o object
	if err := json.Unmarshal(r.Object, &o); err != nil {
		return nil, err
	}
	decoded, _ := json.Marshal(o)
	if o.Metadata.Name == "panic" {
		panic("boom")
	}
	if o.Metadata.Name == "fail" {
		return nil, errors.New("backend unavailable")
	}
	if o.Metadata.Labels == nil {
		o.Metadata.Labels = map[string]string{}
	}
	o.Metadata.Labels["mutated"] = "yes"
	o.Spec.Items = append(o.Spec.Items, map[string]string{"name": "added"})
	mutated, _ := json.Marshal(o)
	return &webhook.Mutation{Decoded: decoded, Mutated: mutated, Warnings: []string{"a warning"}}, nil
}

func (setLabel) Validate(_ context.Context, r *webhook.Request) ([]string, error) {
	var o object
	if err := json.Unmarshal(r.Object, &o); err != nil {
		return nil, err
	}
	if o.Metadata.Name == "bad" {
		return nil, &webhook.Invalid{Errs: field.ErrorList{
			field.Invalid(field.NewPath("metadata", "annotations").Key("a"), "x", "first problem"),
			field.Required(field.NewPath("metadata", "annotations").Key("b"), "second problem"),
		}}
	}
	return nil, nil
}

func newServer() *webhook.Server {
	return webhook.New(webhook.Options{Mutator: setLabel{}, Validator: setLabel{}})
}

func review(t testing.TB, obj string) []byte {
	t.Helper()
	data, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       "7f0b2d4e-uid",
			Kind:      metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
			Operation: admissionv1.Create,
			Object:    runtime.RawExtension{Raw: []byte(obj)},
		},
	})
	require.NoError(t, err)
	return data
}

func post(t testing.TB, s *webhook.Server, path, contentType string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

func response(t testing.TB, rec *httptest.ResponseRecorder) *admissionv1.AdmissionResponse {
	t.Helper()
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var out admissionv1.AdmissionReview
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
	require.NotNil(t, out.Response)
	assert.Equal(t, "7f0b2d4e-uid", string(out.Response.UID))
	return out.Response
}

func TestMutatePatchKeepsUnknownFields(t *testing.T) {
	t.Parallel()
	raw := `{"metadata":{"name":"x","futureMeta":1},"spec":{"items":[{"name":"a","future":"kept"}],"futureSpec":{"a":[1,2]}},"status":{"z":true}}`
	resp := response(t, post(t, newServer(), "/mutate", "application/json", review(t, raw)))
	require.True(t, resp.Allowed)
	assert.Equal(t, []string{"a warning"}, resp.Warnings)
	require.NotNil(t, resp.PatchType)
	assert.Equal(t, admissionv1.PatchTypeJSONPatch, *resp.PatchType)

	patch, err := jsonpatch.DecodePatch(resp.Patch)
	require.NoError(t, err)
	patched, err := patch.Apply([]byte(raw))
	require.NoError(t, err)
	assert.JSONEq(t, `{"metadata":{"name":"x","futureMeta":1,"labels":{"mutated":"yes"}},
		"spec":{"items":[{"name":"a","future":"kept"},{"name":"added"}],"futureSpec":{"a":[1,2]}},"status":{"z":true}}`, string(patched))
	assert.NotContains(t, string(resp.Patch), `"remove"`)
}

func TestMutateNoChangeNoPatch(t *testing.T) {
	t.Parallel()
	s := webhook.New(webhook.Options{Mutator: noChange{}, Validator: setLabel{}})
	resp := response(t, post(t, s, "/mutate", "application/json", review(t, `{"metadata":{"name":"x","unknown":1}}`)))
	assert.True(t, resp.Allowed)
	assert.Nil(t, resp.Patch)
	assert.Nil(t, resp.PatchType)
}

type noChange struct{}

func (noChange) Mutate(_ context.Context, r *webhook.Request) (*webhook.Mutation, error) {
	var o object
	if err := json.Unmarshal(r.Object, &o); err != nil {
		return nil, err
	}
	data, _ := json.Marshal(o)
	return &webhook.Mutation{Decoded: data, Mutated: data}, nil
}

func TestAdmissionErrors(t *testing.T) {
	t.Parallel()
	s := newServer()
	tests := []struct {
		name, path, obj string
		code            int32
		message         string
	}{
		{name: "invalid lists every problem", path: "/validate", obj: `{"metadata":{"name":"bad"}}`, code: 422,
			message: "the MCP server annotations have problems:\n- metadata.annotations[a]: Invalid value: \"x\": first problem\n- metadata.annotations[b]: Required value: second problem"},
		{name: "panic is a clean denial", path: "/mutate", obj: `{"metadata":{"name":"panic"}}`, code: 500, message: "internal error in mutate webhook"},
		{name: "mutator error", path: "/mutate", obj: `{"metadata":{"name":"fail"}}`, code: 500, message: "backend unavailable"},
		{name: "undecodable object", path: "/validate", obj: `[1,2]`, code: 500, message: "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := response(t, post(t, s, tt.path, "application/json", review(t, tt.obj)))
			assert.False(t, resp.Allowed)
			require.NotNil(t, resp.Result)
			assert.Equal(t, tt.code, resp.Result.Code)
			assert.Contains(t, resp.Result.Message, tt.message)
		})
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	s := newServer()
	tests := []struct {
		name        string
		contentType string
		body        []byte
		code        int
	}{
		{"wrong content type", "text/plain", review(t, `{}`), http.StatusUnsupportedMediaType},
		{"no content type", "", review(t, `{}`), http.StatusUnsupportedMediaType},
		{"not json", "application/json", []byte("{nope"), http.StatusBadRequest},
		{"not a review", "application/json", []byte(`{"apiVersion":"v1","kind":"Pod"}`), http.StatusBadRequest},
		{"no request", "application/json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), http.StatusBadRequest},
		{"too large", "application/json", append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), webhook.MaxBodyBytes)...), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := post(t, s, "/mutate", tt.contentType, tt.body)
			assert.Equal(t, tt.code, rec.Code, rec.Body.String())
		})
	}
	get := httptest.NewRecorder()
	s.Handler().ServeHTTP(get, httptest.NewRequest(http.MethodGet, "/mutate", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, get.Code)
}

func TestHealthReadyMetrics(t *testing.T) {
	t.Parallel()
	var notReady = errors.New("no serving certificate yet")
	ready := notReady
	s := webhook.New(webhook.Options{Mutator: setLabel{}, Validator: setLabel{}, Ready: func() error { return ready }})
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		body, _ := io.ReadAll(rec.Body)
		return rec.Code, string(body)
	}
	code, _ := get("/healthz")
	assert.Equal(t, http.StatusOK, code)
	code, body := get("/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "no serving certificate")
	ready = nil
	code, _ = get("/readyz")
	assert.Equal(t, http.StatusOK, code)

	post(t, s, "/mutate", "application/json", review(t, `{"metadata":{"name":"x"}}`))
	post(t, s, "/validate", "application/json", review(t, `{"metadata":{"name":"bad"}}`))
	code, body = get("/metrics")
	assert.Equal(t, http.StatusOK, code)
	for _, want := range []string{
		`mcp_webhook_requests_total{operation="CREATE",result="patched",webhook="mutate"} 1`,
		`mcp_webhook_requests_total{operation="CREATE",result="denied",webhook="validate"} 1`,
		`mcp_webhook_denials_total{reason="FieldValueInvalid",webhook="validate"} 1`,
		`mcp_webhook_request_duration_seconds_count{webhook="mutate"} 1`,
	} {
		assert.True(t, strings.Contains(body, want), "metrics lack %s", want)
	}
}

// blocking holds every review until released, to catch a shutdown that
// drops in-flight requests.
type blocking struct {
	started, release chan struct{}
}

func (b blocking) Mutate(ctx context.Context, r *webhook.Request) (*webhook.Mutation, error) {
	close(b.started)
	<-b.release
	return nil, nil
}

func (b blocking) Validate(context.Context, *webhook.Request) ([]string, error) { return nil, nil }

func TestShutdownDrainsInFlightReviews(t *testing.T) {
	t.Parallel()
	ca, err := certs.NewCA("test", time.Hour)
	require.NoError(t, err)
	pair, err := ca.Issue([]string{"127.0.0.1"}, time.Hour)
	require.NoError(t, err)
	cert, err := tls.X509KeyPair(pair.CertPEM, pair.KeyPEM)
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)

	b := blocking{started: make(chan struct{}), release: make(chan struct{})}
	s := webhook.New(webhook.Options{Mutator: b, Validator: b})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- s.ServeTLS(ctx, l, &tls.Config{Certificates: []tls.Certificate{cert}}, 5*time.Second)
	}()

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.PEM)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	answered := make(chan int, 1)
	go func() {
		resp, err := c.Post("https://"+l.Addr().String()+"/mutate", "application/json", bytes.NewReader(review(t, `{}`)))
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	<-b.started
	cancel() // SIGTERM arrives while a review is in flight
	select {
	case err := <-served:
		t.Fatalf("server stopped before the in-flight review finished: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(b.release)
	assert.Equal(t, http.StatusOK, <-answered, "the in-flight review is answered")
	require.NoError(t, <-served)
	_, err = net.Dial("tcp", l.Addr().String())
	assert.Error(t, err, "no new connections after shutdown")
}
