package certs

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// watchConfigurations calls changed whenever one of our webhook
// configurations changes, so an overwritten caBundle is put back at once.
func (s *SelfSigned) watchConfigurations(ctx context.Context, changed func(any)) {
	factory := informers.NewSharedInformerFactory(s.Client, 0)
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    changed,
		UpdateFunc: func(_, n any) { changed(n) },
	}
	filter := func(obj any) bool {
		m, ok := obj.(metav1.Object)
		return ok && (slices.Contains(s.MutatingWebhooks, m.GetName()) || slices.Contains(s.ValidatingWebhooks, m.GetName()))
	}
	filtered := cache.FilteringResourceEventHandler{FilterFunc: filter, Handler: handler}
	if len(s.MutatingWebhooks) > 0 {
		_, _ = factory.Admissionregistration().V1().MutatingWebhookConfigurations().Informer().AddEventHandler(filtered)
	}
	if len(s.ValidatingWebhooks) > 0 {
		_, _ = factory.Admissionregistration().V1().ValidatingWebhookConfigurations().Informer().AddEventHandler(filtered)
	}
	factory.Start(ctx.Done())
}

// patchCABundles writes ca into every webhook of our configurations whose
// caBundle differs; configurations that do not exist yet are skipped (they
// are picked up when they appear).
func (s *SelfSigned) patchCABundles(ctx context.Context, ca []byte) error {
	mw := s.Client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	for _, name := range s.MutatingWebhooks {
		cfg, err := mw.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading MutatingWebhookConfiguration %s: %w", name, err)
		}
		if !setCABundles(cfg.Webhooks, func(w *admissionregistrationv1.MutatingWebhook) *admissionregistrationv1.WebhookClientConfig {
			return &w.ClientConfig
		}, ca) {
			continue
		}
		if _, err := mw.Update(ctx, cfg, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("writing caBundle of MutatingWebhookConfiguration %s: %w", name, err)
		}
		s.Logger.Info("wrote caBundle", "kind", "MutatingWebhookConfiguration", "name", name)
	}
	vw := s.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	for _, name := range s.ValidatingWebhooks {
		cfg, err := vw.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading ValidatingWebhookConfiguration %s: %w", name, err)
		}
		if !setCABundles(cfg.Webhooks, func(w *admissionregistrationv1.ValidatingWebhook) *admissionregistrationv1.WebhookClientConfig {
			return &w.ClientConfig
		}, ca) {
			continue
		}
		if _, err := vw.Update(ctx, cfg, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("writing caBundle of ValidatingWebhookConfiguration %s: %w", name, err)
		}
		s.Logger.Info("wrote caBundle", "kind", "ValidatingWebhookConfiguration", "name", name)
	}
	return nil
}

// setCABundles sets ca on every webhook and reports whether any changed.
func setCABundles[W any](webhooks []W, clientConfig func(*W) *admissionregistrationv1.WebhookClientConfig, ca []byte) bool {
	changed := false
	for i := range webhooks {
		if cc := clientConfig(&webhooks[i]); !bytes.Equal(cc.CABundle, ca) {
			cc.CABundle, changed = ca, true
		}
	}
	return changed
}
