// Package leader runs a function while this replica holds a Lease: one
// replica of the webhook writes pull secrets at a time, one replica of the
// gateway hibernates idle servers.
package leader

import (
	"context"
	"log/slog"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Election configures leader election with client-go's leaderelection on a
// Lease (in the platform namespace).
type Election struct {
	Client    kubernetes.Interface
	Namespace string
	LeaseName string
	Identity  string
	// LeaseDuration, RenewDeadline and RetryPeriod as in client-go; zero
	// values get the usual 15s/10s/2s.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	Logger                                    *slog.Logger
}

// Run calls lead while this replica holds the Lease, until ctx ends. When
// the Lease is lost, lead's context is cancelled and Run tries again.
func (e Election) Run(ctx context.Context, lead func(ctx context.Context)) {
	if e.LeaseDuration == 0 {
		e.LeaseDuration, e.RenewDeadline, e.RetryPeriod = 15*time.Second, 10*time.Second, 2*time.Second
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: e.LeaseName, Namespace: e.Namespace},
		Client:     e.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: e.Identity},
	}
	for ctx.Err() == nil {
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock:            lock,
			ReleaseOnCancel: true,
			LeaseDuration:   e.LeaseDuration,
			RenewDeadline:   e.RenewDeadline,
			RetryPeriod:     e.RetryPeriod,
			Name:            e.LeaseName,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: lead,
				OnStoppedLeading: func() { e.Logger.Info("not leading", "lease", e.LeaseName, "identity", e.Identity) },
				OnNewLeader: func(id string) {
					e.Logger.Info("leader", "lease", e.LeaseName, "leader", id, "me", id == e.Identity)
				},
			},
		})
	}
}
