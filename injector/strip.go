package injector

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// strip takes away what rec says an earlier injection added, and only where
// the value is still the one that injection wrote.
func strip(t *corev1.PodTemplateSpec, rec *Record) {
	p := &t.Spec
	p.InitContainers = deleteNamed(p.InitContainers, rec.InitContainers, func(c corev1.Container) string { return c.Name })
	p.Volumes = deleteNamed(p.Volumes, rec.Volumes, func(v corev1.Volume) string { return v.Name })
	p.ImagePullSecrets = deleteNamed(p.ImagePullSecrets, rec.PullSecrets, func(r corev1.LocalObjectReference) string { return r.Name })
	if rec.Tolerations != "" && fingerprint(p.Tolerations) == rec.Tolerations {
		p.Tolerations = nil
	}
	for k, v := range rec.NodeSelector {
		if p.NodeSelector[k] == v {
			delete(p.NodeSelector, k)
		}
	}
	if len(p.NodeSelector) == 0 {
		p.NodeSelector = nil
	}
	if rec.AutomountToken != "" && p.AutomountServiceAccountToken != nil && fingerprint(*p.AutomountServiceAccountToken) == rec.AutomountToken {
		p.AutomountServiceAccountToken = nil
	}
	for i := range p.Containers {
		if p.Containers[i].Name == rec.Container {
			stripContainer(&p.Containers[i], rec)
		}
	}
	for k, v := range t.Labels {
		if has(rec.PodLabels, k, v) {
			delete(t.Labels, k)
		}
	}
	if len(t.Labels) == 0 {
		t.Labels = nil
	}
	for k, v := range t.Annotations {
		if has(rec.PodAnnotations, k, v) {
			delete(t.Annotations, k)
		}
	}
	if len(t.Annotations) == 0 {
		t.Annotations = nil
	}
}

func stripContainer(c *corev1.Container, rec *Record) {
	if rec.Wrapped && len(c.Command) >= len(launcherPrefix) && slices.Equal(c.Command[:len(launcherPrefix)], launcherPrefix) {
		c.Command = c.Command[len(launcherPrefix):]
	}
	if rec.Command != "" && fingerprint(c.Command) == rec.Command {
		c.Command = nil
	}
	if rec.Args != "" && fingerprint(c.Args) == rec.Args {
		c.Args = nil
	}
	if len(c.Command) == 0 {
		c.Command = nil
	}
	if rec.Image != "" && c.Image == rec.Image {
		c.Image = ""
	}
	c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return has(rec.Env, e.Name, e) })
	if len(c.Env) == 0 {
		c.Env = nil
	}
	c.EnvFrom = slices.DeleteFunc(c.EnvFrom, func(f corev1.EnvFromSource) bool {
		return f.SecretRef != nil && has(rec.EnvFrom, f.SecretRef.Name, f)
	})
	if len(c.EnvFrom) == 0 {
		c.EnvFrom = nil
	}
	c.VolumeMounts = deleteNamed(c.VolumeMounts, rec.Mounts, func(m corev1.VolumeMount) string { return m.Name })
	if rec.PreStop != "" && c.Lifecycle != nil && c.Lifecycle.PreStop != nil && fingerprint(c.Lifecycle.PreStop) == rec.PreStop {
		c.Lifecycle.PreStop = nil
		if *c.Lifecycle == (corev1.Lifecycle{}) {
			c.Lifecycle = nil
		}
	}
	stripSecurity(c, rec)
	stripResources(c.Resources.Requests, "requests/", rec)
	stripResources(c.Resources.Limits, "limits/", rec)
	if len(c.Resources.Requests) == 0 {
		c.Resources.Requests = nil
	}
	if len(c.Resources.Limits) == 0 {
		c.Resources.Limits = nil
	}
}

func stripSecurity(c *corev1.Container, rec *Record) {
	sc := c.SecurityContext
	if sc == nil {
		return
	}
	if sc.AllowPrivilegeEscalation != nil && has(rec.Security, "allowPrivilegeEscalation", sc.AllowPrivilegeEscalation) {
		sc.AllowPrivilegeEscalation = nil
	}
	if sc.Capabilities != nil && has(rec.Security, "capabilities", sc.Capabilities) {
		sc.Capabilities = nil
	}
	if sc.SeccompProfile != nil && has(rec.Security, "seccompProfile", sc.SeccompProfile) {
		sc.SeccompProfile = nil
	}
	if sc.ReadOnlyRootFilesystem != nil && has(rec.Security, "readOnlyRootFilesystem", sc.ReadOnlyRootFilesystem) {
		sc.ReadOnlyRootFilesystem = nil
	}
	if slices.Contains(rec.Security, "created") && *sc == (corev1.SecurityContext{}) {
		c.SecurityContext = nil
	}
}

func stripResources(list corev1.ResourceList, prefix string, rec *Record) {
	for name, q := range list {
		if has(rec.Resources, prefix+string(name), q.String()) {
			delete(list, name)
		}
	}
}

// deleteNamed removes the items whose name is listed; nil when none remain.
func deleteNamed[T any](items []T, names []string, name func(T) string) []T {
	if len(names) == 0 {
		return items
	}
	items = slices.DeleteFunc(items, func(it T) bool { return slices.Contains(names, name(it)) })
	if len(items) == 0 {
		return nil
	}
	return items
}
