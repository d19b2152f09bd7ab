// Package admission connects the injector to the webhook: it decodes
// Deployments from admission requests and answers with the injected object
// or the list of problems.
package admission

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"

	"github.com/archestra-ai/mcp-orchestrator/api"
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
	if dep.DeletionTimestamp != nil || gatewayBookkeeping(r, dep) {
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
	if err != nil || dep == nil || dep.DeletionTimestamp != nil || gatewayBookkeeping(r, dep) {
		return nil, err
	}
	if _, errs := d.Injector.Validate(dep); len(errs) > 0 {
		return nil, &webhook.Invalid{Errs: errs}
	}
	return nil, nil
}

// gatewayBookkeeping reports an UPDATE that changes the gateway's
// hibernation record (to a readable one, or none) and nothing else. The
// gateway writes it while it hibernates and wakes the server; re-injecting
// then (after a platform config change, say) would roll the Deployment out
// under its feet, and denying it would leave a server asleep. Replica counts
// never come here: the gateway scales through the scale subresource, which
// the webhook configurations do not match.
func gatewayBookkeeping(r *webhook.Request, dep *appsv1.Deployment) bool {
	if r.Operation != admissionv1.Update || len(r.OldObject) == 0 {
		return false
	}
	if v, ok := dep.Annotations[api.AnnHibernation]; ok {
		if _, err := api.ParseHibernation(v); err != nil {
			return false // the injector denies it, saying why
		}
	}
	var old appsv1.Deployment
	if err := json.Unmarshal(r.OldObject, &old); err != nil {
		return false
	}
	oldRecord, hadRecord := old.Annotations[api.AnnHibernation]
	newRecord, hasRecord := dep.Annotations[api.AnnHibernation]
	if oldRecord == newRecord && hadRecord == hasRecord {
		return false // not the gateway's write: an update may re-inject
	}
	return maps.Equal(old.Labels, dep.Labels) &&
		maps.Equal(withoutRecord(old.Annotations), withoutRecord(dep.Annotations)) &&
		apiequality.Semantic.DeepEqual(old.Spec, dep.Spec)
}

func withoutRecord(ann map[string]string) map[string]string {
	out := maps.Clone(ann)
	delete(out, api.AnnHibernation)
	return out
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
