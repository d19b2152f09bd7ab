package injector

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

func stdioServer() *appsv1.Deployment {
	var d appsv1.Deployment
	d.Name = "local"
	d.Labels = map[string]string{api.ServerLabel: "local"}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "local", Image: "example.com/local:1", Command: []string{"server"}}}
	return &d
}

// The platform config's sidecar settings become flags only when set, so
// the sidecar's own defaults hold otherwise; the stdio ones only for stdio.
func TestSidecarFlagsFromConfig(t *testing.T) {
	t.Parallel()
	set := DefaultConfig()
	set.Sidecar.WarmPool, set.Sidecar.IdleTimeout, set.Sidecar.MaxProcs = ptr.To(0), "5m", ptr.To(0)
	for _, tt := range []struct {
		name   string
		cfg    Config
		server func() *appsv1.Deployment
		want   []string
		absent []string
	}{
		{"stdio, unset", DefaultConfig(), stdioServer, nil, []string{"--warm-pool=", "--idle-timeout=", "--max-procs="}},
		{"stdio, set", set, stdioServer, []string{"--warm-pool=0", "--idle-timeout=5m", "--max-procs=0"}, nil},
		{"http, unset", DefaultConfig(), httpServer, nil, []string{"--warm-pool=", "--idle-timeout=", "--max-procs="}},
		{"http, set", set, httpServer, []string{"--max-procs=0"}, []string{"--warm-pool=", "--idle-timeout="}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := tt.server()
			_, errs := New(tt.cfg).Inject(d)
			require.Empty(t, errs)
			args := sidecarOf(t, d.Spec.Template.Spec).Args
			for _, a := range tt.want {
				assert.Contains(t, args, a)
			}
			for _, prefix := range tt.absent {
				for _, a := range args {
					assert.NotContains(t, a, prefix)
				}
			}
		})
	}
}
