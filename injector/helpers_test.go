package injector

import (
	"os"

	corev1 "k8s.io/api/core/v1"
)

func writeFile(path, body string) error { return os.WriteFile(path, []byte(body), 0o600) }

// platformPod is a webhook Pod as the API stores it: the two tolerations
// with tolerationSeconds were added by the DefaultTolerationSeconds plugin.
func platformPod() *corev1.Pod {
	secs := int64(300)
	return &corev1.Pod{Spec: corev1.PodSpec{
		NodeSelector: map[string]string{"pool": "platform", "kubernetes.io/os": "linux"},
		Tolerations: []corev1.Toleration{
			{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "platform", Effect: corev1.TaintEffectNoSchedule},
			{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
			{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &secs},
			{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &secs},
		},
	}}
}
