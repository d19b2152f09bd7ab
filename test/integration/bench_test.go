package integration

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/injector"
)

// BenchmarkDeploymentCreate measures what the webhook adds to a Deployment
// create on the real apiserver. Four creates alternate in each iteration:
//   - plain: the user's Deployment without the label (no webhook called);
//   - preinjected: the object the webhook would store, created directly
//     (as `mcpctl inject` users do): same stored size, no webhook;
//   - noop-webhook: the plain Deployment through a webhook that allows
//     everything without a patch: the floor of any admission webhook here;
//   - webhook: the labelled Deployment through our mutating and validating
//     webhooks over TLS.
func BenchmarkDeploymentCreate(b *testing.B) {
	if testing.Short() {
		b.Skip("needs the envtest apiserver")
	}
	ctx := context.Background()
	ns := "bench-" + fmt.Sprint(time.Now().UnixNano())
	if _, err := client.CoreV1().Namespaces().Create(ctx, namespace(ns), metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	annotations := map[string]string{api.AnnCommand: "npx -y @modelcontextprotocol/server-everything", api.AnnSecretEnv: "API_KEY=s:k"}
	var labelled appsv1.Deployment
	mustUnmarshal(b, deploymentYAML("webhook", true, "example.com/mcp/server:1", annotations), &labelled)
	plain := labelled.DeepCopy()
	plain.Name = "plain"
	delete(plain.Labels, api.ServerLabel)
	noop := plain.DeepCopy()
	noop.Name = "noop"
	noop.Labels["noop-webhook"] = "yes"
	registerNoopWebhook(b, ctx)
	cfg, err := injector.LoadConfig("testdata/webhook-config.yaml")
	if err != nil {
		b.Fatal(err)
	}
	pre := labelled.DeepCopy()
	pre.Name = "preinjected"
	if _, errs := injector.New(cfg).Inject(pre); len(errs) > 0 {
		b.Fatal(errs)
	}
	delete(pre.Labels, api.ServerLabel) // keeps it away from the webhook

	variants := []*appsv1.Deployment{plain, pre, noop, &labelled}
	samples := make([][]time.Duration, len(variants))
	create := func(d *appsv1.Deployment, i int) time.Duration {
		obj := d.DeepCopy()
		obj.Name = fmt.Sprintf("%s-%d", d.Name, i)
		start := time.Now()
		if _, err := client.AppsV1().Deployments(ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	for _, v := range variants { // warm connections and webhook clients
		create(v, -1)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		for j, v := range variants {
			samples[j] = append(samples[j], create(v, i))
		}
	}
	b.StopTimer()
	p50 := func(j int) float64 { return float64(percentile(samples[j], 50)) }
	b.ReportMetric(p50(0)/1e3, "p50-plain-µs")
	b.ReportMetric(p50(1)/1e3, "p50-preinjected-µs")
	b.ReportMetric(p50(2)/1e3, "p50-noop-webhook-µs")
	b.ReportMetric(p50(3)/1e3, "p50-webhook-µs")
	b.ReportMetric(p50(3)/p50(0), "ratio-webhook/plain")
	b.ReportMetric(p50(3)/p50(1), "ratio-webhook/preinjected")
	b.ReportMetric(p50(2)/p50(0), "ratio-noop/plain")
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

// registerNoopWebhook serves a webhook that allows everything, for the
// Deployments labelled noop-webhook=yes.
func registerNoopWebhook(b *testing.B, ctx context.Context) {
	caPEM, certPEM, keyPEM, err := newServingCert("127.0.0.1")
	if err != nil {
		b.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		b.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		b.Fatal(err)
	}
	calls := make(chan struct{}, 1)
	srv := &http.Server{Handler: countCalls(calls, func(w http.ResponseWriter, r *http.Request) {
		var review admissionv1.AdmissionReview
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
			http.Error(w, "bad review", http.StatusBadRequest)
			return
		}
		review.Response = &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
		review.Request = nil
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(review)
	})}
	go func() { _ = srv.Serve(l) }()
	b.Cleanup(func() { _ = srv.Close() })

	url := "https://" + l.Addr().String() + "/"
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "noop-" + fmt.Sprint(time.Now().UnixNano())},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "noop.example.com", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caPEM},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}},
			}},
			ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"noop-webhook": "yes"}},
			FailurePolicy:  &fail, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
		}},
	}
	if _, err := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, cfg, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = client.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), cfg.Name, metav1.DeleteOptions{})
	})
	// The API server picks up new webhook configurations asynchronously:
	// wait until a dry-run create of a labelled Deployment reaches it.
	var probe appsv1.Deployment
	mustUnmarshal(b, deploymentYAML("noop-probe", false, "example.com/x:1", nil), &probe)
	probe.Labels["noop-webhook"] = "yes"
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := client.AppsV1().Deployments("default").Create(ctx, &probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			b.Fatal(err)
		}
		select {
		case <-calls:
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatal("the no-op webhook was never called")
		}
	}
}

func countCalls(calls chan<- struct{}, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case calls <- struct{}{}:
		default:
		}
		next(w, r)
	})
}
