// Package injector turns a labelled, annotated Deployment into a runnable MCP
// server Deployment. It is pure: no HTTP, no API calls. The admission webhook
// and `mcpctl inject` both call it.
package injector

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// Injector applies one Config to Deployments.
type Injector struct {
	cfg     Config
	cfgHash string
}

// New returns an Injector for a validated Config.
func New(cfg Config) *Injector {
	return &Injector{cfg: cfg, cfgHash: cfg.Hash()}
}

// Config returns the effective configuration.
func (in *Injector) Config() Config { return in.cfg }

// Result is what one injection found besides the mutated object.
type Result struct {
	Warnings []string
	// SecretRefs are the Secrets the injected pods depend on (for
	// missing-Secret warnings); none for an unlabelled Deployment.
	SecretRefs []SecretRef
}

// Inject mutates d in place: it removes what an earlier injection added and,
// while the Deployment carries the server label, injects again. Problems are
// returned all at once as a field.ErrorList; d must then be discarded.
func (in *Injector) Inject(d *appsv1.Deployment) ([]string, field.ErrorList) {
	res, errs := in.Admit(d)
	return res.Warnings, errs
}

// Admit is Inject that also reports the Secrets the result depends on, from
// the same single parse of the annotations.
func (in *Injector) Admit(d *appsv1.Deployment) (Result, field.ErrorList) {
	var res Result
	if raw, ok := d.Annotations[api.AnnInjected]; ok {
		rec, err := decodeRecord(raw)
		if err != nil {
			return res, field.ErrorList{field.Invalid(field.NewPath("metadata", "annotations").Key(api.AnnInjected),
				field.OmitValueType{}, fmt.Sprintf("%v; this annotation is written by the webhook only, remove it", err))}
		}
		strip(&d.Spec.Template, rec)
		delete(d.Annotations, api.AnnInjected)
		if len(d.Annotations) == 0 {
			d.Annotations = nil
		}
	}
	if _, labelled := d.Labels[api.ServerLabel]; !labelled {
		return res, nil
	}
	spec, errs, warns := Parse(d.Labels, d.Annotations)
	res.Warnings = append(res.Warnings, warns...)
	errs = append(errs, in.hibernateFloor(spec)...)
	if len(errs) > 0 {
		return res, errs
	}
	rec, warns, errs := in.apply(spec, &d.Spec.Template)
	res.Warnings = append(res.Warnings, warns...)
	if len(errs) > 0 {
		return res, errs
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[api.AnnInjected] = rec.encode()
	res.SecretRefs = in.secretRefs(spec)
	return res, nil
}

// hibernateFloor refuses a hibernate-after shorter than the platform's floor.
func (in *Injector) hibernateFloor(s *Spec) field.ErrorList {
	floor := in.cfg.MinHibernateAfter()
	if s.HibernateAfter == 0 || s.HibernateAfter >= floor {
		return nil
	}
	fp := field.NewPath("metadata", "annotations").Key(api.AnnHibernateAfter)
	return field.ErrorList{field.Invalid(fp, s.hibernateAfterRaw, fmt.Sprintf("must be at least %s, or %q", floor, api.HibernateOff))}
}

// Validate reports every problem of d's MCP annotations without keeping any
// change: what the validating webhook denies with.
func (in *Injector) Validate(d *appsv1.Deployment) ([]string, field.ErrorList) {
	return in.Inject(d.DeepCopy())
}

// apply injects spec into the pod template and records what it added.
func (in *Injector) apply(s *Spec, t *corev1.PodTemplateSpec) (*Record, []string, field.ErrorList) {
	podPath := field.NewPath("spec", "template", "spec")
	idx, errs := serverContainer(s, &t.Spec, podPath)
	errs = append(errs, reservedNames(&t.Spec, podPath)...)
	if v, ok := t.Labels[api.ServerLabel]; ok && v != s.Server {
		errs = append(errs, field.Invalid(field.NewPath("spec", "template", "metadata", "labels").Key(api.ServerLabel), v,
			"must equal the Deployment's "+api.ServerLabel+" label, or be left out (the webhook copies it)"))
	}
	if len(errs) == 0 && t.Spec.Containers[idx].Name == "" {
		errs = append(errs, field.Required(podPath.Child("containers").Index(idx).Child("name"), "the MCP server container needs a name"))
	}
	if len(errs) > 0 {
		return nil, nil, errs
	}
	rec := &Record{Version: in.cfg.Version, Config: in.cfgHash, Container: t.Spec.Containers[idx].Name}
	c := &t.Spec.Containers[idx]
	cpath := podPath.Child("containers").Index(idx)

	var warnings []string
	warnings = append(warnings, in.applyImageAndCommand(s, c, rec)...)
	if s.Transport == api.TransportStdio && len(c.Command) == 0 {
		errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(api.AnnCommand),
			fmt.Sprintf("a stdio server needs a command: set this annotation or %s (the image's entrypoint is not visible at admission)", cpath.Child("command"))))
	}
	port, perrs := serverPort(s, c)
	errs = append(errs, perrs...)
	if len(errs) > 0 {
		return nil, warnings, errs
	}
	warnings = append(warnings, in.applyServerContainer(s, &t.Spec, c, rec)...)
	in.applySidecar(s, port, &t.Spec, rec)
	warnings = append(warnings, in.applyPod(s, &t.Spec, rec)...)
	in.applyMetadata(s, t, rec)
	return rec, warnings, nil
}

// serverContainer picks the MCP server container: the annotated one, the
// only one, or the one named mcp-server.
func serverContainer(s *Spec, p *corev1.PodSpec, podPath *field.Path) (int, field.ErrorList) {
	name := s.Container
	if name == "" {
		switch {
		case len(p.Containers) == 1:
			return 0, nil
		default:
			name = "mcp-server"
		}
	}
	for i := range p.Containers {
		if p.Containers[i].Name == name {
			return i, nil
		}
	}
	if s.Container != "" {
		return 0, field.ErrorList{field.NotFound(field.NewPath("metadata", "annotations").Key(api.AnnContainer), name)}
	}
	if len(p.Containers) == 0 {
		return 0, field.ErrorList{field.Required(podPath.Child("containers"), "a Deployment needs at least one container")}
	}
	return 0, field.ErrorList{field.Required(field.NewPath("metadata", "annotations").Key(api.AnnContainer),
		"the pod has several containers and none is named mcp-server: name the MCP server container with this annotation")}
}

// reservedNames rejects user objects that use the names the injection adds.
func reservedNames(p *corev1.PodSpec, podPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, c := range p.InitContainers {
		if c.Name == api.SidecarName || c.Name == api.InstallName {
			errs = append(errs, field.Invalid(podPath.Child("initContainers").Index(i).Child("name"), c.Name, "this name is reserved for the injected sidecar"))
		}
	}
	for i, c := range p.Containers {
		if c.Name == api.SidecarName || c.Name == api.InstallName {
			errs = append(errs, field.Invalid(podPath.Child("containers").Index(i).Child("name"), c.Name, "this name is reserved for the injected sidecar"))
		}
	}
	for i, v := range p.Volumes {
		if isReservedVolume(v.Name) {
			errs = append(errs, field.Invalid(podPath.Child("volumes").Index(i).Child("name"), v.Name, "this name is reserved for the injection"))
		}
	}
	return errs
}

func isReservedVolume(name string) bool {
	switch name {
	case api.SharedVolume, api.TmpVolume, api.HomeVolume, api.HeadersVolume, api.GatewayCAVolume:
		return true
	}
	return len(name) > len(secretVolumePrefix) && name[:len(secretVolumePrefix)] == secretVolumePrefix
}

// serverPort is the streamable-http server's own port: the annotation, else
// the container's only declared port, else 8080. It must differ from the
// sidecar's port, which shares the pod's network namespace.
func serverPort(s *Spec, c *corev1.Container) (int32, field.ErrorList) {
	if s.Transport != api.TransportStreamableHTTP {
		return 0, nil
	}
	port, fp := s.Port, field.NewPath("metadata", "annotations").Key(api.AnnPort)
	if !s.PortSet && len(c.Ports) == 1 {
		port = c.Ports[0].ContainerPort
	}
	if port == api.SidecarPort && !s.PortSet && len(c.Ports) != 1 {
		// The contract's default port is the sidecar's own: a server
		// that declares no single port must say which one it listens on.
		return 0, field.ErrorList{field.Required(fp, fmt.Sprintf(
			"a streamable-http server needs its port: set this annotation, or declare exactly one containerPort on container %q (it declares %d; the default, %d, is the injected mcp-transport sidecar's own)",
			c.Name, len(c.Ports), api.SidecarPort))}
	}
	if port == api.SidecarPort {
		return 0, field.ErrorList{field.Invalid(fp, port, fmt.Sprintf(
			"port %d is where the injected mcp-transport sidecar listens in the same pod; make the server listen on another port and set this annotation to it", api.SidecarPort))}
	}
	return port, nil
}

// secretRefs lists the Secrets pods of spec depend on, the platform's
// default pull secrets included.
func (in *Injector) secretRefs(spec *Spec) []SecretRef {
	refs := spec.secretRefs()
	for _, name := range in.cfg.ImagePullSecrets {
		refs = append(refs, SecretRef{Name: name, Source: "platform imagePullSecrets"})
	}
	return refs
}
