package certs

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIssuedCertificateServesTLS(t *testing.T) {
	t.Parallel()
	ca, err := NewCA("test-ca", time.Hour)
	require.NoError(t, err)
	pair, err := ca.Issue([]string{"127.0.0.1", "mcp-webhook.mcp-system.svc"}, time.Hour)
	require.NoError(t, err)
	cert, err := tls.X509KeyPair(pair.CertPEM, pair.KeyPEM)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	require.NoError(t, err)
	assert.Equal(t, []string{"mcp-webhook.mcp-system.svc"}, leaf.DNSNames)
	assert.True(t, leaf.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")))

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(ca.PEM))
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(srv.URL)
	require.NoError(t, err, "a client trusting only the CA accepts the certificate")
	resp.Body.Close()

	other, err := NewCA("other", time.Hour)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(other.PEM)
	c = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	_, err = c.Get(srv.URL)
	assert.Error(t, err, "a client trusting another CA refuses it")

	_, err = ca.Issue(nil, time.Hour)
	assert.Error(t, err)
}
