package injector

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/utils/ptr"

	"github.com/archestra-ai/mcp-orchestrator/api"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// applySidecar adds the mcp-transport native sidecar (an init container with
// restartPolicy Always, so it starts before and stops after the server) and,
// for stdio, the init container that copies the launcher into the shared
// volume. Both are appended so the user's own init containers keep their
// positions: the admission patch then never rewrites them.
func (in *Injector) applySidecar(s *Spec, serverPort int32, p *corev1.PodSpec, rec *Record) {
	args := []string{"serve", "--listen=:" + strconv.Itoa(api.SidecarPort), "--path=" + api.SidecarMCPPath, "--mode=" + s.Transport,
		"--shutdown-grace=" + drainGrace(p).String()}
	if len(s.AllowedTools) > 0 {
		// The sidecar enforces the allow-list itself, so a path that
		// skips the gateway's filter still cannot call a hidden tool.
		args = append(args, "--allowed-tools="+strings.Join(s.AllowedTools, ","))
	}
	if n := in.cfg.Sidecar.MaxProcs; n != nil {
		args = append(args, "--max-procs="+strconv.Itoa(*n))
	}
	mtls := in.cfg.CallerAuth == CallerAuthMTLS
	if mtls {
		args = append(args, "--client-ca-file="+api.GatewayCADir+"/"+api.GatewayCAKey)
	}
	if s.Transport == api.TransportStdio || mtls {
		in.applyInstall(p, rec)
	}
	var mounts []corev1.VolumeMount
	if s.Transport == api.TransportStdio {
		args = append(args, "--launcher-socket="+api.LauncherSocket, "--sessions="+s.Sessions)
		maxSessions := s.MaxSessions
		if maxSessions == 0 {
			maxSessions = in.cfg.MaxSessions
		}
		if maxSessions > 0 {
			args = append(args, "--max-sessions="+strconv.Itoa(maxSessions))
		}
		if in.cfg.Sidecar.WarmPool != nil {
			args = append(args, "--warm-pool="+strconv.Itoa(*in.cfg.Sidecar.WarmPool))
		}
		if in.cfg.Sidecar.IdleTimeout != "" {
			args = append(args, "--idle-timeout="+in.cfg.Sidecar.IdleTimeout)
		}
		mounts = append(mounts, corev1.VolumeMount{Name: api.SharedVolume, MountPath: api.SharedDir})
	} else {
		args = append(args, fmt.Sprintf("--upstream=http://127.0.0.1:%d%s", serverPort, s.Path))
		if s.RequestHeadersSecret != "" {
			args = append(args, "--request-headers-dir="+api.HeadersDir)
			mounts = append(mounts, corev1.VolumeMount{Name: api.HeadersVolume, MountPath: api.HeadersDir, ReadOnly: true})
			addVolume(p, rec, corev1.Volume{Name: api.HeadersVolume, VolumeSource: corev1.VolumeSource{
				Secret: &corev1.SecretVolumeSource{SecretName: s.RequestHeadersSecret, DefaultMode: ptr.To(corev1.SecretVolumeSourceDefaultMode)}}})
		}
	}
	scheme := corev1.URISchemeHTTP
	if mtls {
		mounts = append(mounts, gatewayCAMount(p, rec))
		// The kubelet probes over HTTPS without verifying the certificate.
		scheme = corev1.URISchemeHTTPS
	}
	sidecar := in.transportContainer(api.SidecarName, args, mounts)
	sidecar.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
	sidecar.Ports = []corev1.ContainerPort{{Name: api.SidecarPortName, ContainerPort: api.SidecarPort, Protocol: corev1.ProtocolTCP}}
	sidecar.ReadinessProbe = httpProbe(api.ReadyPath, scheme, 5, 3)
	sidecar.LivenessProbe = httpProbe(api.HealthPath, scheme, 10, 3)
	p.InitContainers = append(p.InitContainers, sidecar)
	rec.InitContainers = append(rec.InitContainers, api.SidecarName)
}

// applyInstall adds the init container that puts the launcher binary in
// the shared volume: the stdio server's PID 1, and the drain hook (an exec
// in the pod) of every server with caller authentication.
func (in *Injector) applyInstall(p *corev1.PodSpec, rec *Record) {
	shared := []corev1.VolumeMount{{Name: api.SharedVolume, MountPath: api.SharedDir}}
	install := in.transportContainer(api.InstallName, []string{"install", "--dest=" + api.LauncherPath}, shared)
	p.InitContainers = append(p.InitContainers, install)
	rec.InitContainers = append(rec.InitContainers, api.InstallName)
}

// gatewayCAMount adds the ConfigMap with the gateway's CA bundle to the pod
// and returns the sidecar's mount of it. Public data only: the CA
// certificates, kept current by the controller and re-read by the sidecar
// when the kubelet updates the mount. Optional, so a pod admitted before
// the controller wrote it starts, and is not ready until it is there.
func gatewayCAMount(p *corev1.PodSpec, rec *Record) corev1.VolumeMount {
	addVolume(p, rec, corev1.Volume{Name: api.GatewayCAVolume, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: api.GatewayCAConfigMap},
		Items:                []corev1.KeyToPath{{Key: api.GatewayCAKey, Path: api.GatewayCAKey}},
		DefaultMode:          ptr.To(corev1.ConfigMapVolumeSourceDefaultMode), Optional: ptr.To(true)}}})
	return corev1.VolumeMount{Name: api.GatewayCAVolume, MountPath: api.GatewayCADir, ReadOnly: true}
}

func (in *Injector) transportContainer(name string, args []string, mounts []corev1.VolumeMount) corev1.Container {
	return corev1.Container{
		Name:            name,
		Image:           in.cfg.Sidecar.Image,
		ImagePullPolicy: in.cfg.Sidecar.ImagePullPolicy,
		Command:         []string{api.SidecarBinary},
		Args:            args,
		Resources:       *in.cfg.Sidecar.Resources.DeepCopy(),
		VolumeMounts:    mounts,
		SecurityContext: restrictedSecurityContext(),
		// The API server's defaults, written out: otherwise every later
		// admission would "change" the stored containers back to ours.
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
	}
}

// restrictedSecurityContext meets the "restricted" Pod Security Standard.
func restrictedSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsNonRoot:             ptr.To(true),
		RunAsUser:                ptr.To(int64(65532)),
		RunAsGroup:               ptr.To(int64(65532)),
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

func httpProbe(path string, scheme corev1.URIScheme, period, failures int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: path, Port: intstr.FromString(api.SidecarPortName), Scheme: scheme,
		}},
		PeriodSeconds:    period,
		FailureThreshold: failures,
		TimeoutSeconds:   1,
		SuccessThreshold: 1,
	}
}

// launcherKillGrace is the launcher's default time between SIGTERM and
// SIGKILL for a server process.
const launcherKillGrace = 10 * time.Second

// drainGrace fits the sidecar's drain (the preStop hook) into the pod's
// termination grace period, leaving the launcher time to stop the server
// processes and a margin: 30 s (the Kubernetes default) gives 15 s.
func drainGrace(p *corev1.PodSpec) time.Duration {
	period := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if p.TerminationGracePeriodSeconds != nil {
		period = *p.TerminationGracePeriodSeconds
	}
	grace := time.Duration(period)*time.Second - launcherKillGrace - 5*time.Second
	return max(grace, time.Second)
}
