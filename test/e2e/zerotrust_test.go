//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Scenario 10: only the gateway reaches an MCP server. A pod in another
// namespace (the prober, a stand-in for a compromised workload) calls a
// server's pod IP directly: refused without a certificate, with a forged
// caller identity, with a certificate of another CA and with an expired
// one of the gateway's CA; with a valid gateway certificate the sidecar
// still refuses a tool outside allowed-tools. The local cluster's network
// plugin enforces no NetworkPolicy: this is the sidecar alone.
const guardedServer = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: guarded
  labels: {mcp.archestra.io/server: guarded}
  annotations:
    mcp.archestra.io/command: /usr/local/bin/stdio-server
    mcp.archestra.io/allowed-tools: echo,hostname
spec:
  replicas: 1
  selector: {matchLabels: {app: guarded}}
  template:
    metadata: {labels: {app: guarded}}
    spec:
      containers:
      - name: server
        image: localhost/mcp-e2e/stdio-server:v1
`

const proberPod = `
apiVersion: v1
kind: Pod
metadata: {name: prober, labels: {app: prober}}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - name: prober
    image: localhost/mcp-e2e/prober:v1
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, runAsNonRoot: true}
`

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"prober","version":"1"}}}`

// probeResult is what the prober printed.
type probeResult struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	Error   string            `json:"error"`
}

// probe runs one request from the prober pod of ns; cert (PEM certificate
// and key) is its client certificate, nil for none.
func probe(t *testing.T, ns string, cert []byte, url, body string, headers ...string) probeResult {
	t.Helper()
	args := []string{"-n", ns, "exec", "-i", "prober", "--", "/usr/local/bin/prober", "call"}
	if cert != nil {
		args = append(args, "-cert-stdin")
	}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	if body != "" {
		args = append(args, "-d", body)
	}
	out, err := kubectlStdin(string(cert), append(args, url)...)
	require.NoError(t, err, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var r probeResult
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &r), out)
	return r
}

// gatewayCA is the gateway client CA that signs now, from the webhook's
// Secret (the test is the cluster admin).
func gatewayCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	s, err := client.CoreV1().Secrets("mcp-system").Get(context.Background(), "mcp-gateway-client-ca", metav1.GetOptions{})
	require.NoError(t, err)
	cb, _ := pem.Decode(s.Data["ca.crt"])
	kb, _ := pem.Decode(s.Data["ca.key"])
	require.NotNil(t, cb)
	require.NotNil(t, kb)
	cert, err := x509.ParseCertificate(cb.Bytes)
	require.NoError(t, err)
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	require.NoError(t, err)
	return cert, key
}

// clientCert signs a client certificate for the gateway's name, valid
// from notBefore to notAfter, with parent (nil: self-signed, a CA of its
// own) and returns certificate and key as one PEM.
func clientCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, notBefore, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "mcp-gateway"},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if parent == nil { // another CA: made here, with the same names as the gateway's
		caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mcp-orchestrator-gateway-client-ca"},
			NotBefore: notBefore, NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
		require.NoError(t, err)
		parent, err = x509.ParseCertificate(der)
		require.NoError(t, err)
		parentKey = caKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...)
}

func TestOnlyTheGatewayReachesAServer(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "e2e-zerotrust")
	attacker := namespace(t, "e2e-attacker")
	apply(t, ns, guardedServer)
	apply(t, attacker, proberPod)
	pods := waitReady(t, ns, "guarded", 1)
	require.Eventually(t, func() bool {
		p, err := client.CoreV1().Pods(attacker).Get(context.Background(), "prober", metav1.GetOptions{})
		return err == nil && p.Status.Phase == "Running" && podReady(*p)
	}, 2*time.Minute, 250*time.Millisecond, "the prober pod runs")
	target := fmt.Sprintf("https://%s:8080", pods[0].Status.PodIP)
	call := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"direct"}}}`
	forged := []string{"Mcp-Orchestrator-Caller: system:admin", "Mcp-Orchestrator-Caller-Groups: system:masters"}

	caCert, caKey := gatewayCA(t)
	now := time.Now()
	expired := clientCert(t, caCert, caKey, now.Add(-2*time.Hour), now.Add(-time.Hour))
	foreign := clientCert(t, nil, nil, now.Add(-time.Minute), now.Add(time.Hour))

	for _, tt := range []struct {
		name    string
		cert    []byte
		headers []string
		want    string
	}{
		{"no certificate", nil, nil, "no client certificate"},
		{"no certificate, forged caller identity", nil, forged, "no client certificate"},
		{"certificate of another CA", foreign, forged, "not from the gateway's CA"},
		{"expired certificate of the gateway's CA", expired, nil, "expired or not valid yet"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, body := range []string{initializeBody, call} {
				r := probe(t, attacker, tt.cert, target+"/mcp", body, tt.headers...)
				require.Empty(t, r.Error, "an answer, not a failed handshake or a hang")
				assert.Equal(t, 403, r.Status, r.Body)
				assert.Contains(t, r.Body, `"jsonrpc":"2.0"`, "a JSON-RPC error body")
				assert.Contains(t, r.Body, tt.want)
			}
		})
	}

	t.Run("plain HTTP to the sidecar port", func(t *testing.T) {
		r := probe(t, attacker, nil, strings.Replace(target, "https:", "http:", 1)+"/mcp", call)
		assert.Equal(t, 400, r.Status, "the port speaks TLS only")
	})
	t.Run("drain from outside the pod", func(t *testing.T) {
		r := probe(t, attacker, nil, target+"/drain", "{}")
		assert.Equal(t, 403, r.Status, r.Body)
		assert.Contains(t, r.Body, "only the pod itself")
	})

	t.Run("a valid gateway certificate still cannot call a hidden tool", func(t *testing.T) {
		caCert, caKey := gatewayCA(t) // the CA that signs now
		valid := clientCert(t, caCert, caKey, time.Now().Add(-time.Minute), time.Now().Add(10*time.Minute))
		init := probe(t, attacker, valid, target+"/mcp", initializeBody)
		require.Equal(t, 200, init.Status, init.Body)
		sid := init.Headers["Mcp-Session-Id"]
		require.NotEmpty(t, sid)
		session := []string{"Mcp-Session-Id: " + sid, "Mcp-Protocol-Version: 2025-06-18"}
		probe(t, attacker, valid, target+"/mcp", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, session...)
		list := probe(t, attacker, valid, target+"/mcp", `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, session...)
		require.Equal(t, 200, list.Status, list.Body)
		assert.Contains(t, list.Body, `"echo"`)
		assert.NotContains(t, list.Body, `"env"`, "the hidden tool is not listed by the sidecar")
		hidden := probe(t, attacker, valid, target+"/mcp", `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"env","arguments":{"name":"HOME"}}}`,
			append(session, forged...)...)
		assert.Equal(t, 200, hidden.Status)
		assert.Contains(t, hidden.Body, `tool \"env\" is not allowed`)
		assert.Contains(t, hidden.Body, `"code":-32602`)
		allowed := probe(t, attacker, valid, target+"/mcp", `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","arguments":{"text":"with the gateway's CA"}}}`, session...)
		assert.Contains(t, allowed.Body, "with the gateway's CA", "the certificate is what the sidecar checks")
	})

	t.Run("every refusal is counted", func(t *testing.T) {
		r := probe(t, attacker, nil, target+"/metrics", "")
		require.Equal(t, 200, r.Status)
		for reason, atLeast := range map[string]int{"no_client_certificate": 4, "untrusted_client_certificate": 2, "expired_client_certificate": 2, "not_from_pod": 1, "tool_not_allowed": 1} {
			assert.GreaterOrEqual(t, metricValue(t, r.Body, `mcp_transport_refused_total{reason="`+reason+`"}`), atLeast, reason)
		}
	})

	t.Run("through the gateway", func(t *testing.T) {
		s := connect(t, ns, "guarded")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		tools, err := s.ListTools(ctx, nil)
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{"echo", "hostname"}, toolNames(tools))
		text, err := callText(ctx, s, "echo", map[string]any{"text": "through the gateway"})
		require.NoError(t, err)
		assert.Contains(t, text, "through the gateway")
	})
}

// metricValue is the value of one sample line of a Prometheus text page.
func metricValue(t *testing.T, page, sample string) int {
	t.Helper()
	for _, l := range strings.Split(page, "\n") {
		if v, ok := strings.CutPrefix(l, sample+" "); ok {
			var n float64
			_, err := fmt.Sscan(v, &n)
			require.NoError(t, err)
			return int(n)
		}
	}
	return 0
}

// Scenario 11: the managed NetworkPolicy (and the CA bundle ConfigMap)
// appear with a namespace's first MCP server and go with its last.
func TestManagedObjectsFollowServers(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "e2e-netpol")
	ctx := context.Background()
	exists := func(kind string) func() bool {
		return func() bool {
			var err error
			if kind == "NetworkPolicy" {
				_, err = client.NetworkingV1().NetworkPolicies(ns).Get(ctx, "mcp-gateway-only", metav1.GetOptions{})
			} else {
				_, err = client.CoreV1().ConfigMaps(ns).Get(ctx, "mcp-gateway-ca", metav1.GetOptions{})
			}
			return err == nil
		}
	}
	assert.False(t, exists("NetworkPolicy")())
	apply(t, ns, strings.ReplaceAll(guardedServer, "guarded", "policed"))
	for _, kind := range []string{"NetworkPolicy", "ConfigMap"} {
		require.Eventually(t, exists(kind), 30*time.Second, 100*time.Millisecond, kind+" appears with the server")
	}
	np, err := client.NetworkingV1().NetworkPolicies(ns).Get(ctx, "mcp-gateway-only", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "mcp-orchestrator", np.Labels["app.kubernetes.io/managed-by"])
	assert.Equal(t, map[string]string{"app.kubernetes.io/name": "mcp-gateway"}, np.Spec.Ingress[0].From[0].PodSelector.MatchLabels)
	waitReady(t, ns, "policed", 1)
	require.NoError(t, client.AppsV1().Deployments(ns).Delete(ctx, "policed", metav1.DeleteOptions{}))
	for _, kind := range []string{"NetworkPolicy", "ConfigMap"} {
		require.Eventually(t, func() bool { return !exists(kind)() }, 30*time.Second, 100*time.Millisecond, kind+" goes with the last server")
	}
}

// Scenario 12: the gateway's client CA rotates (the suite runs it with a
// 6-minute CA, 2-minute certificates and 40-second overlaps, see the
// overlay) while clients keep calling a server through the gateway: not
// one call fails, from before the new CA is staged until the old one is
// retired and every sidecar has dropped it.
func TestGatewayClientCARotatesUnderLoad(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "e2e-rotation-mtls")
	apply(t, ns, strings.ReplaceAll(guardedServer, "guarded", "steady"))
	waitReady(t, ns, "steady", 1)
	ctx := context.Background()
	secret := func() map[string][]byte {
		s, err := client.CoreV1().Secrets("mcp-system").Get(ctx, "mcp-gateway-client-ca", metav1.GetOptions{})
		require.NoError(t, err)
		return s.Data
	}
	first := secret()["ca.crt"]

	var ok, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		s := connect(t, ns, "steady")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				began := time.Now()
				text, err := callText(cctx, s, "echo", map[string]any{"text": fmt.Sprint("load ", i)})
				cancel()
				if err != nil || !strings.Contains(text, "load") {
					failed.Add(1)
					t.Logf("call of session %d (%s) begun at %s failed at %s: %v", i, s.ID()[:12], began.Format("15:04:05.000"), time.Now().Format("15:04:05.000"), err)
				} else {
					ok.Add(1)
				}
				time.Sleep(10 * time.Millisecond) // steady load, not a flood of a shared machine

			}
		}()
	}

	var staged, signs, retired time.Time
	deadline := time.Now().Add(9 * time.Minute)
	for time.Now().Before(deadline) && (retired.IsZero() || time.Since(retired) < 40*time.Second) {
		d := secret()
		switch {
		case staged.IsZero() && d["ca-next.crt"] != nil:
			staged = time.Now()
		case !staged.IsZero() && signs.IsZero() && !bytes.Equal(d["ca.crt"], first):
			signs = time.Now()
		case !signs.IsZero() && retired.IsZero() && d["ca-previous.crt"] == nil:
			retired = time.Now()
		}
		time.Sleep(500 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d calls, %d failed; new CA staged %s, signing %s later, old CA retired %s after that",
		ok.Load(), failed.Load(), staged.Format(time.TimeOnly), signs.Sub(staged).Round(time.Second), retired.Sub(signs).Round(time.Second))
	require.False(t, retired.IsZero(), "a whole CA rotation within 9 minutes")
	if !assert.Zero(t, failed.Load(), "no call fails across the rotation") {
		// Every hop's log of the time around it.
		for _, args := range [][]string{
			{"-n", ns, "logs", "deployment/steady", "-c", "mcp-transport", "--since=10m"},
			{"-n", ns, "logs", "deployment/steady", "-c", "server", "--since=10m"},
			{"-n", "mcp-system", "logs", "-l", "app.kubernetes.io/name=mcp-gateway", "--prefix", "--since=10m", "--tail=-1"},
		} {
			out, _ := kubectl(args...)
			t.Logf("kubectl %s\n%s", strings.Join(args, " "), out)
		}
	}
	assert.Greater(t, ok.Load(), int64(500))

	// The sidecars now trust only the new CA.
	cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, "mcp-gateway-ca", metav1.GetOptions{})
	require.NoError(t, err)
	assert.NotContains(t, cm.Data["ca.crt"], strings.TrimSpace(string(first)), "the old CA left the namespace's bundle")
}
