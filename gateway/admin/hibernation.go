package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
	"github.com/archestra-ai/mcp-orchestrator/gateway/hibernate"
)

// Hibernation is what the operators' API needs from the gateway's
// hibernation (package hibernate); nil: wake and hibernate answer 501.
type Hibernation interface {
	Window(d *appsv1.Deployment) time.Duration
	WakeNow(ctx context.Context, namespace, server, by string) (*api.Hibernation, error)
	HibernateNow(ctx context.Context, namespace, server, by string) (*api.Hibernation, error)
}

// HibernationStatus is a server's hibernation in the API: state and since
// when, from the gateway's record on the Deployment.
type HibernationStatus struct {
	// State is Hibernated, Hibernating, Waking, Awake (hibernation on),
	// Unmanaged (someone else owns the replicas) or Unknown (unreadable).
	State  string `json:"state"`
	Since  string `json:"since,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Replicas is what a wake restores.
	Replicas int32 `json:"replicas,omitempty"`
	// After is the effective hibernate-after: a duration, or "off".
	After string `json:"after"`
}

// HibernationResult answers POST .../wake and .../hibernate.
type HibernationResult struct {
	Deployment  string             `json:"deployment"`
	Hibernation *HibernationStatus `json:"hibernation,omitempty"`
}

// hibernationStatus of d; nil when hibernation is off for it and it has no
// record.
func (a *API) hibernationStatus(d *appsv1.Deployment) *HibernationStatus {
	after := a.after(d)
	v, ok := d.Annotations[api.AnnHibernation]
	if !ok {
		if after == api.HibernateOff {
			return nil
		}
		return &HibernationStatus{State: "Awake", After: after}
	}
	r, err := api.ParseHibernation(v)
	if err != nil {
		return &HibernationStatus{State: "Unknown", Reason: "unreadable record: " + err.Error(), After: after}
	}
	return recordStatus(&r, after)
}

// after is d's effective hibernate-after for people: "30m", or "off".
func (a *API) after(d *appsv1.Deployment) string {
	if a.Hibernation != nil {
		if w := a.Hibernation.Window(d); w > 0 {
			return shortDuration(w)
		}
	}
	return api.HibernateOff
}

func recordStatus(r *api.Hibernation, after string) *HibernationStatus {
	if r == nil {
		return &HibernationStatus{State: "Awake", After: after}
	}
	st := &HibernationStatus{State: capitalize(r.State), Since: r.Since.UTC().Format(time.RFC3339), Reason: r.Reason, After: after}
	if r.State != api.HibernationAwake && r.State != api.HibernationUnmanaged {
		st.Replicas = r.Replicas
	}
	return st
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// shortDuration prints 30m rather than 30m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (a *API) wake(w http.ResponseWriter, r *http.Request) {
	a.hibernation(w, r, "wake", a.Hibernation.WakeNow)
}

func (a *API) hibernate(w http.ResponseWriter, r *http.Request) {
	a.hibernation(w, r, "hibernate", a.Hibernation.HibernateNow)
}

type hibernationOp func(ctx context.Context, namespace, server, by string) (*api.Hibernation, error)

// hibernation runs an operator's wake or hibernate: 200 with the state it
// reached, 409 when the state does not allow it (and why).
func (a *API) hibernation(w http.ResponseWriter, r *http.Request, what string, op hibernationOp) {
	d, ok := a.deployment(w, r)
	if !ok {
		return
	}
	by := "an operator"
	if u := auth.UserFrom(r.Context()); u != nil && u.Name != "" {
		by = u.Name
	}
	rec, err := op(r.Context(), d.Namespace, d.Labels[api.ServerLabel], by)
	switch {
	case errors.Is(err, hibernate.ErrNotHibernated), errors.Is(err, hibernate.ErrRefused):
		writeError(w, r, http.StatusConflict, err.Error())
		return
	case errors.Is(err, hibernate.ErrNotFound):
		writeError(w, r, http.StatusNotFound, err.Error())
		return
	case err != nil:
		a.apiError(w, r, what, err)
		return
	}
	a.Log.Info("operator "+what, "namespace", d.Namespace, "deployment", d.Name, "user", by)
	writeJSON(w, http.StatusOK, HibernationResult{Deployment: d.Name, Hibernation: recordStatus(rec, a.after(d))})
}

// unavailable answers wake/hibernate on a gateway without hibernation.
func unavailable(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusNotImplemented, "hibernation is off on this gateway (--hibernation=false)")
}
