package injector

import (
	"fmt"
	"slices"

	"k8s.io/utils/ptr"

	"github.com/archestra-ai/mcp-orchestrator/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const secretVolumePrefix = "mcp-secret-"

// launcherPrefix is what a wrapped stdio command starts with; the original
// command follows and the container's args are appended by Kubernetes.
var launcherPrefix = []string{api.LauncherPath, "launch", "--socket", api.LauncherSocket, "--"}

func (in *Injector) applyImageAndCommand(s *Spec, c *corev1.Container, rec *Record) []string {
	var warnings []string
	if c.Image == "" {
		c.Image = in.cfg.BaseImage
		rec.Image = c.Image
	}
	if s.Command != nil {
		if len(c.Command) == 0 {
			c.Command = slices.Clone(s.Command)
			rec.Command = fingerprint(c.Command)
		} else {
			warnings = append(warnings, fmt.Sprintf("%s is ignored: container %q sets its own command", api.AnnCommand, c.Name))
		}
	}
	if s.Args != nil {
		if len(c.Args) == 0 {
			c.Args = slices.Clone(s.Args)
			rec.Args = fingerprint(c.Args)
		} else {
			warnings = append(warnings, fmt.Sprintf("%s is ignored: container %q sets its own args", api.AnnArgs, c.Name))
		}
	}
	return warnings
}

// applyServerContainer adds what the server container needs: the launcher
// (stdio), secrets, writable /tmp and HOME, security and resource defaults.
func (in *Injector) applyServerContainer(s *Spec, p *corev1.PodSpec, c *corev1.Container, rec *Record) []string {
	var warnings []string
	mtls := in.cfg.CallerAuth == CallerAuthMTLS
	switch {
	case s.Transport == api.TransportStdio:
		c.Command = append(slices.Clone(launcherPrefix), c.Command...)
		rec.Wrapped = true
		addMount(p, c, rec, corev1.VolumeMount{Name: api.SharedVolume, MountPath: api.SharedDir}, emptyDir(api.SharedVolume))
	case mtls:
		// Only the drain hook's binary: read-only for an HTTP server.
		addMount(p, c, rec, corev1.VolumeMount{Name: api.SharedVolume, MountPath: api.SharedDir, ReadOnly: true}, emptyDir(api.SharedVolume))
	}
	for _, e := range s.SecretEnv {
		if hasEnv(c, e.Var) {
			warnings = append(warnings, fmt.Sprintf("%s: container %q already sets %s; its own value is kept", api.AnnSecretEnv, c.Name, e.Var))
			continue
		}
		addEnv(c, rec, corev1.EnvVar{Name: e.Var, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: e.Secret}, Key: e.Key}}})
	}
	for _, name := range s.SecretEnvFrom {
		if slices.ContainsFunc(c.EnvFrom, func(f corev1.EnvFromSource) bool { return f.SecretRef != nil && f.SecretRef.Name == name }) {
			continue
		}
		item := corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}
		c.EnvFrom = append(c.EnvFrom, item)
		rec.EnvFrom = append(rec.EnvFrom, keyed(name, item))
	}
	for _, f := range s.SecretFiles {
		if hasMountAt(c, f.Path) {
			warnings = append(warnings, fmt.Sprintf("%s: container %q already mounts %s; secret %s is not mounted there", api.AnnSecretFiles, c.Name, f.Path, f.Secret))
			continue
		}
		name := secretVolumePrefix + fingerprint(f)
		addMount(p, c, rec, corev1.VolumeMount{Name: name, MountPath: f.Path, ReadOnly: true},
			corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: f.Secret, DefaultMode: ptr.To(corev1.SecretVolumeSourceDefaultMode)}}})
	}
	if !hasMountAt(c, "/tmp") {
		addMount(p, c, rec, corev1.VolumeMount{Name: api.TmpVolume, MountPath: "/tmp"}, emptyDir(api.TmpVolume))
	}
	in.applyHome(c, p, rec)
	applyDrain(c, mtls, rec)
	in.applySecurity(c, p, rec)
	warnings = append(warnings, in.applyResources(c, rec)...)
	return warnings
}

// applyDrain makes pod shutdown graceful. Kubernetes stops the server
// container before its native sidecar, and the launcher (its PID 1) ends
// the server processes on SIGTERM; the preStop hook first asks the sidecar
// to stop taking sessions and waits until requests in flight are answered.
// A sidecar that authenticates its caller drains only for the pod itself,
// so the hook is `mcp-transport drain` run in the server container (the
// binary from the shared volume), which calls it on the pod's loopback;
// otherwise the kubelet calls it.
func applyDrain(c *corev1.Container, mtls bool, rec *Record) {
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		return // the user's own hook wins
	}
	if c.Lifecycle == nil {
		c.Lifecycle = &corev1.Lifecycle{}
	}
	if mtls {
		c.Lifecycle.PreStop = &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{api.LauncherPath, "drain"}}}
	} else {
		c.Lifecycle.PreStop = &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: api.DrainPath, Port: intstr.FromInt32(api.SidecarPort), Scheme: corev1.URISchemeHTTP,
		}}
	}
	rec.PreStop = fingerprint(c.Lifecycle.PreStop)
}

// applyHome gives the process a writable HOME where it needs one: on the
// base image (whose HOME we know) and under a read-only root filesystem.
// Elsewhere the image's own HOME is left alone.
func (in *Injector) applyHome(c *corev1.Container, p *corev1.PodSpec, rec *Record) {
	readOnly := c.SecurityContext != nil && c.SecurityContext.ReadOnlyRootFilesystem != nil && *c.SecurityContext.ReadOnlyRootFilesystem
	if rec.Image == "" && !readOnly && !in.cfg.Security.ReadOnlyRootFilesystem {
		return
	}
	if hasEnv(c, "HOME") || hasMountAt(c, in.cfg.Home) {
		return
	}
	addEnv(c, rec, corev1.EnvVar{Name: "HOME", Value: in.cfg.Home})
	addMount(p, c, rec, corev1.VolumeMount{Name: api.HomeVolume, MountPath: in.cfg.Home}, emptyDir(api.HomeVolume))
}

// applySecurity fills the server container's securityContext field by field
// where the user set nothing. Combinations the API rejects are avoided: no
// allowPrivilegeEscalation=false on a privileged or CAP_SYS_ADMIN container.
func (in *Injector) applySecurity(c *corev1.Container, p *corev1.PodSpec, rec *Record) {
	if c.SecurityContext == nil {
		c.SecurityContext = &corev1.SecurityContext{}
		rec.Security = append(rec.Security, "created")
	}
	sc := c.SecurityContext
	privileged := sc.Privileged != nil && *sc.Privileged
	if sc.Capabilities != nil && slices.ContainsFunc(sc.Capabilities.Add, func(c corev1.Capability) bool {
		return c == "SYS_ADMIN" || c == "CAP_SYS_ADMIN"
	}) {
		privileged = true
	}
	if sc.AllowPrivilegeEscalation == nil && !privileged {
		sc.AllowPrivilegeEscalation = ptr.To(false)
		rec.Security = append(rec.Security, keyed("allowPrivilegeEscalation", sc.AllowPrivilegeEscalation))
	}
	if sc.Capabilities == nil && !privileged {
		sc.Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
		rec.Security = append(rec.Security, keyed("capabilities", sc.Capabilities))
	}
	if sc.SeccompProfile == nil && (p.SecurityContext == nil || p.SecurityContext.SeccompProfile == nil) {
		sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
		rec.Security = append(rec.Security, keyed("seccompProfile", sc.SeccompProfile))
	}
	if sc.ReadOnlyRootFilesystem == nil && in.cfg.Security.ReadOnlyRootFilesystem {
		sc.ReadOnlyRootFilesystem = ptr.To(true)
		rec.Security = append(rec.Security, keyed("readOnlyRootFilesystem", sc.ReadOnlyRootFilesystem))
	}
}

// applyResources fills default requests and limits per resource name. A
// request is only defaulted when the user set neither request nor limit for
// that name (the API copies a lone limit into the request), and a limit only
// when it is not below the user's own request.
func (in *Injector) applyResources(c *corev1.Container, rec *Record) []string {
	var warnings []string
	for _, name := range sortedKeys(in.cfg.Resources.Requests) {
		rn := corev1.ResourceName(name)
		if _, ok := c.Resources.Requests[rn]; ok {
			continue
		}
		if _, ok := c.Resources.Limits[rn]; ok {
			continue
		}
		q := in.cfg.Resources.Requests[rn]
		if c.Resources.Requests == nil {
			c.Resources.Requests = corev1.ResourceList{}
		}
		c.Resources.Requests[rn] = q.DeepCopy()
		rec.Resources = append(rec.Resources, keyed("requests/"+name, q.String()))
	}
	for _, name := range sortedKeys(in.cfg.Resources.Limits) {
		rn := corev1.ResourceName(name)
		if _, ok := c.Resources.Limits[rn]; ok {
			continue
		}
		q := in.cfg.Resources.Limits[rn]
		if req, ok := c.Resources.Requests[rn]; ok && req.Cmp(q) > 0 {
			warnings = append(warnings, fmt.Sprintf("container %q requests more %s (%s) than the default limit (%s); no default limit set", c.Name, name, req.String(), q.String()))
			continue
		}
		if c.Resources.Limits == nil {
			c.Resources.Limits = corev1.ResourceList{}
		}
		c.Resources.Limits[rn] = q.DeepCopy()
		rec.Resources = append(rec.Resources, keyed("limits/"+name, q.String()))
	}
	return warnings
}

func addEnv(c *corev1.Container, rec *Record, e corev1.EnvVar) {
	c.Env = append(c.Env, e)
	rec.Env = append(rec.Env, keyed(e.Name, e))
}

// addMount mounts a volume into the container and adds the volume to the pod
// unless another container of ours already added it.
func addMount(p *corev1.PodSpec, c *corev1.Container, rec *Record, m corev1.VolumeMount, v corev1.Volume) {
	c.VolumeMounts = append(c.VolumeMounts, m)
	rec.Mounts = append(rec.Mounts, m.Name)
	addVolume(p, rec, v)
}

func addVolume(p *corev1.PodSpec, rec *Record, v corev1.Volume) {
	if slices.Contains(rec.Volumes, v.Name) {
		return
	}
	p.Volumes = append(p.Volumes, v)
	rec.Volumes = append(rec.Volumes, v.Name)
}

func emptyDir(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
}

func hasEnv(c *corev1.Container, name string) bool {
	return slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
}

func hasMountAt(c *corev1.Container, path string) bool {
	return slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == path })
}
