package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
)

// MaxBodyBytes bounds an AdmissionReview: an object may be 1.5 MiB in etcd
// and an UPDATE carries two of them, plus the envelope.
const MaxBodyBytes = 7 << 20

// errBadReview is a request that is not an AdmissionReview we can answer.
type errBadReview struct {
	status int
	msg    string
}

func (e *errBadReview) Error() string { return e.msg }

// readReview checks the transport-level shape of a review request.
func readReview(w http.ResponseWriter, r *http.Request) (*admissionv1.AdmissionReview, error) {
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/json" {
		return nil, &errBadReview{http.StatusUnsupportedMediaType, "Content-Type must be application/json"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &errBadReview{http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", MaxBodyBytes)}
		}
		return nil, &errBadReview{http.StatusBadRequest, "reading body: " + err.Error()}
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		return nil, &errBadReview{http.StatusBadRequest, "body is not an AdmissionReview: " + err.Error()}
	}
	if review.APIVersion != admissionv1.SchemeGroupVersion.String() || review.Kind != "AdmissionReview" {
		return nil, &errBadReview{http.StatusBadRequest, fmt.Sprintf("expected admission.k8s.io/v1 AdmissionReview, got %s %s", review.APIVersion, review.Kind)}
	}
	if review.Request == nil {
		return nil, &errBadReview{http.StatusBadRequest, "AdmissionReview has no request"}
	}
	return &review, nil
}

// admitFunc answers one AdmissionRequest.
type admitFunc func(ctx context.Context, r *Request) (*admissionv1.AdmissionResponse, string)

// serveReview wraps an admitFunc with decoding, panic recovery, metrics and
// logging. A panic becomes a clean 500 denial for that request only.
func (s *Server) serveReview(name string, admit admitFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		review, err := readReview(w, r)
		if err != nil {
			var bad *errBadReview
			errors.As(err, &bad)
			s.metrics.requests.WithLabelValues(name, "", "bad-request").Inc()
			s.log.Warn("rejected admission request", "webhook", name, "status", bad.status, "error", bad.msg)
			http.Error(w, bad.msg, bad.status)
			return
		}
		req := newRequest(review.Request)
		resp, result := s.admitSafely(r.Context(), name, admit, req)
		resp.UID = review.Request.UID
		s.metrics.requests.WithLabelValues(name, string(req.Operation), result).Inc()
		s.metrics.latency.WithLabelValues(name).Observe(time.Since(start).Seconds())

		out, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: resp})
		if err != nil {
			http.Error(w, "encoding response: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	}
}

func (s *Server) admitSafely(ctx context.Context, name string, admit admitFunc, req *Request) (resp *admissionv1.AdmissionResponse, result string) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic while admitting", "webhook", name, "kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name, "panic", fmt.Sprint(p))
			resp, result = denial(fmt.Errorf("internal error in %s webhook", name)), "error"
		}
	}()
	return admit(ctx, req)
}

func (s *Server) mutate(ctx context.Context, r *Request) (*admissionv1.AdmissionResponse, string) {
	m, err := s.mutator.Mutate(ctx, r)
	if err != nil {
		return s.deny("mutate", r, err)
	}
	resp := &admissionv1.AdmissionResponse{Allowed: true}
	if m == nil {
		return resp, "allowed"
	}
	resp.Warnings = m.Warnings
	patch, err := createPatch(r.Object, m.Decoded, m.Mutated)
	if err != nil {
		return s.deny("mutate", r, fmt.Errorf("creating patch: %w", err))
	}
	if patch == nil {
		return resp, "allowed"
	}
	pt := admissionv1.PatchTypeJSONPatch
	resp.Patch, resp.PatchType = patch, &pt
	s.log.Info("mutated", "kind", r.Kind.Kind, "namespace", r.Namespace, "name", r.Name, "operation", r.Operation, "dryRun", r.DryRun, "patchBytes", len(patch))
	return resp, "patched"
}

func (s *Server) validate(ctx context.Context, r *Request) (*admissionv1.AdmissionResponse, string) {
	warnings, err := s.validator.Validate(ctx, r)
	if err != nil {
		return s.deny("validate", r, err)
	}
	return &admissionv1.AdmissionResponse{Allowed: true, Warnings: warnings}, "allowed"
}

func (s *Server) deny(name string, r *Request, err error) (*admissionv1.AdmissionResponse, string) {
	var invalid *Invalid
	if errors.As(err, &invalid) {
		for _, e := range invalid.Errs {
			s.metrics.denials.WithLabelValues(name, string(e.Type)).Inc()
		}
		s.log.Info("denied", "webhook", name, "kind", r.Kind.Kind, "namespace", r.Namespace, "name", r.Name, "problems", len(invalid.Errs))
		return denial(err), "denied"
	}
	s.log.Error("admission failed", "webhook", name, "kind", r.Kind.Kind, "namespace", r.Namespace, "name", r.Name, "error", err)
	return denial(err), "error"
}
