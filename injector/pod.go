package injector

import (
	"slices"

	"k8s.io/utils/ptr"

	"github.com/archestra-ai/mcp-orchestrator/api"
	corev1 "k8s.io/api/core/v1"
)

// applyPod fills pod-level defaults: pull secrets, scheduling and the
// service account token.
func (in *Injector) applyPod(s *Spec, p *corev1.PodSpec, rec *Record) []string {
	var warnings []string
	pull := append(slices.Clone(in.cfg.ImagePullSecrets), s.ImagePullSecrets...)
	if s.RegistryCredentials != "" {
		pull = append(pull, api.RegistrySecretName(s.RegistryCredentials))
	}
	for _, name := range pull {
		if slices.ContainsFunc(p.ImagePullSecrets, func(r corev1.LocalObjectReference) bool { return r.Name == name }) {
			continue
		}
		p.ImagePullSecrets = append(p.ImagePullSecrets, corev1.LocalObjectReference{Name: name})
		rec.PullSecrets = append(rec.PullSecrets, name)
	}
	if s.InheritScheduling {
		if len(p.Tolerations) == 0 && len(in.cfg.Scheduling.Tolerations) > 0 {
			p.Tolerations = slices.Clone(in.cfg.Scheduling.Tolerations)
			rec.Tolerations = fingerprint(p.Tolerations)
		}
		for _, k := range sortedKeys(in.cfg.Scheduling.NodeSelector) {
			if _, ok := p.NodeSelector[k]; ok {
				continue
			}
			if p.NodeSelector == nil {
				p.NodeSelector = map[string]string{}
			}
			if rec.NodeSelector == nil {
				rec.NodeSelector = map[string]string{}
			}
			p.NodeSelector[k] = in.cfg.Scheduling.NodeSelector[k]
			rec.NodeSelector[k] = p.NodeSelector[k]
		}
	}
	if p.AutomountServiceAccountToken == nil {
		v := in.cfg.Security.AutomountServiceAccountToken
		if v == nil {
			v = ptr.To(false)
		}
		p.AutomountServiceAccountToken = ptr.To(*v)
		rec.AutomountToken = fingerprint(*v)
	}
	return warnings
}

// applyMetadata writes the pod template label the gateway discovers pods by
// and the annotations it routes with.
func (in *Injector) applyMetadata(s *Spec, t *corev1.PodTemplateSpec, rec *Record) {
	if t.Labels[api.ServerLabel] != s.Server {
		if t.Labels == nil {
			t.Labels = map[string]string{}
		}
		t.Labels[api.ServerLabel] = s.Server
		rec.PodLabels = append(rec.PodLabels, keyed(api.ServerLabel, s.Server))
	}
	ep := api.PodEndpoint{Port: api.SidecarPort, Path: api.SidecarMCPPath, Transport: s.Transport}
	if s.Transport == api.TransportStdio {
		ep.Sessions = s.Sessions
	}
	if len(s.AllowedTools) > 0 {
		ep.AllowedTools = s.AllowedTools
	}
	if in.cfg.CallerAuth == CallerAuthMTLS {
		ep.CallerAuth = api.CallerAuthMTLS
	}
	ann := api.EncodePodEndpoint(ep)
	for _, k := range sortedKeys(ann) {
		if t.Annotations[k] == ann[k] {
			continue
		}
		if t.Annotations == nil {
			t.Annotations = map[string]string{}
		}
		t.Annotations[k] = ann[k]
		rec.PodAnnotations = append(rec.PodAnnotations, keyed(k, ann[k]))
	}
}
