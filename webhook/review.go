// Package webhook is the admission plumbing: AdmissionReview decoding, JSON
// patch creation, the mutate and validate handlers and the HTTPS server. It
// knows nothing about MCP or annotations; a Mutator and a Validator do the
// work on the raw object.
package webhook

import (
	"context"
	"errors"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Request is the part of an AdmissionRequest that mutators and validators
// need: the raw objects, never re-encoded.
type Request struct {
	UID       string
	Kind      schema.GroupVersionKind
	Namespace string
	Name      string
	Operation admissionv1.Operation
	DryRun    bool
	Object    []byte
	OldObject []byte
}

// Mutation is a mutator's answer. Decoded is the object as the mutator
// decoded and re-encoded it, before changing anything: comparing it with
// Mutated tells real changes from fields the mutator's types do not know.
// A nil Mutation means "no change".
type Mutation struct {
	Decoded  []byte
	Mutated  []byte
	Warnings []string
}

// Mutator turns a request's object into the object to store.
type Mutator interface {
	Mutate(ctx context.Context, r *Request) (*Mutation, error)
}

// Validator reports every problem of a request's object. A field.ErrorList
// (or an error wrapping one) becomes a denial with status 422; any other
// error is an internal error.
type Validator interface {
	Validate(ctx context.Context, r *Request) (warnings []string, err error)
}

// Invalid is returned by mutators and validators for a bad object.
type Invalid struct{ Errs field.ErrorList }

func (e *Invalid) Error() string { return e.Errs.ToAggregate().Error() }

func newRequest(r *admissionv1.AdmissionRequest) *Request {
	return &Request{
		UID:       string(r.UID),
		Kind:      schema.GroupVersionKind(r.Kind),
		Namespace: r.Namespace,
		Name:      r.Name,
		Operation: r.Operation,
		DryRun:    r.DryRun != nil && *r.DryRun,
		Object:    r.Object.Raw,
		OldObject: r.OldObject.Raw,
	}
}

// denial is the AdmissionResponse of a refused request.
func denial(err error) *admissionv1.AdmissionResponse {
	var invalid *Invalid
	if errors.As(err, &invalid) {
		return &admissionv1.AdmissionResponse{Result: &metav1.Status{
			Status:  metav1.StatusFailure,
			Code:    422,
			Reason:  metav1.StatusReasonInvalid,
			Message: invalidMessage(invalid.Errs),
		}}
	}
	return &admissionv1.AdmissionResponse{Result: &metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    500,
		Reason:  metav1.StatusReasonInternalError,
		Message: err.Error(),
	}}
}

// invalidMessage lists every problem on a line of its own: kubectl prints
// the message after "denied the request: ".
func invalidMessage(errs field.ErrorList) string {
	if len(errs) == 1 {
		return errs[0].Error()
	}
	msg := "the MCP server annotations have problems:"
	for _, e := range errs {
		msg += "\n- " + e.Error()
	}
	return msg
}
