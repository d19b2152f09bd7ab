// Package admission connects the injector to the webhook: it decodes
// Deployments from admission requests and answers with the injected object
// or the list of problems.
package admission

import (
	"context"
	"encoding/json"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/archestra-ai/mcp-orchestrator/injector"
	"github.com/archestra-ai/mcp-orchestrator/webhook"
)

// Deployments is the webhook.Mutator and webhook.Validator for apps/v1
// Deployments.
type Deployments struct {
	Injector *injector.Injector
	// Secrets, when set, turns references to missing Secrets into warnings.
	Secrets SecretLookup
}

var (
	_ webhook.Mutator   = Deployments{}
	_ webhook.Validator = Deployments{}
)

// Mutate injects (or removes an earlier injection from) the Deployment. An
// object with bad annotations is denied here already, with every problem:
// left alone, a "base image + command" Deployment has no image, and the API
// server's own "image: Required value" would hide the real problems before
// the validating webhook ever saw them.
func (d Deployments) Mutate(_ context.Context, r *webhook.Request) (*webhook.Mutation, error) {
	dep, decoded, err := decode(r)
	if err != nil || dep == nil {
		return nil, err
	}
	if dep.DeletionTimestamp != nil {
		return nil, nil
	}
	res, errs := d.Injector.Admit(dep)
	if len(errs) > 0 {
		return nil, &webhook.Invalid{Errs: errs}
	}
	warnings := append(res.Warnings, missingSecretWarnings(d.Secrets, r.Namespace, res.SecretRefs)...)
	mutated, err := json.Marshal(dep)
	if err != nil {
		return nil, fmt.Errorf("encoding Deployment: %w", err)
	}
	return &webhook.Mutation{Decoded: decoded, Mutated: mutated, Warnings: warnings}, nil
}

// Validate denies a Deployment whose MCP annotations have any problem. A
// Deployment being deleted is let through so it can always go away.
func (d Deployments) Validate(_ context.Context, r *webhook.Request) ([]string, error) {
	dep, _, err := decode(r)
	if err != nil || dep == nil || dep.DeletionTimestamp != nil {
		return nil, err
	}
	if _, errs := d.Injector.Validate(dep); len(errs) > 0 {
		return nil, &webhook.Invalid{Errs: errs}
	}
	return nil, nil
}

// decode returns the Deployment of a CREATE or UPDATE, and its JSON after a
// decode/encode round trip; nil for anything else.
func decode(r *webhook.Request) (*appsv1.Deployment, []byte, error) {
	if r.Kind.Group != "apps" || r.Kind.Kind != "Deployment" {
		return nil, nil, nil
	}
	if r.Operation != admissionv1.Create && r.Operation != admissionv1.Update {
		return nil, nil, nil
	}
	var dep appsv1.Deployment
	if err := json.Unmarshal(r.Object, &dep); err != nil {
		return nil, nil, fmt.Errorf("decoding Deployment: %w", err)
	}
	decoded, err := json.Marshal(&dep)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding Deployment: %w", err)
	}
	return &dep, decoded, nil
}
