package gatewayauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"os"
	"time"
)

// ServerTLS is the sidecar's TLS configuration: an ephemeral self-signed
// serving certificate made at start (its key never leaves the process; the
// gateway encrypts to it but does not verify it, see the README's threat
// model), and a client certificate requested but not required by TLS
// itself, so that the kubelet's probes (which present none) reach /healthz
// and /readyz, and a refused MCP request gets an HTTP answer saying why
// instead of a failed handshake.
func ServerTLS() (*tls.Config, error) {
	cert, err := ephemeralCertificate()
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequestClientCert,
		// HTTP/1.1 like the plain hop: the gateway pools connections per pod.
		NextProtos: []string{"http/1.1"},
	}, nil
}

// ephemeralCertificate is a P-256 certificate for this pod's host name,
// valid from a little before now for ten years (the pod's lifetime; nobody
// checks its expiry).
func ephemeralCertificate() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating the serving key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("serial number: %w", err)
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "mcp-transport"
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host, Organization: []string{"mcp-transport (ephemeral)"}},
		DNSNames:     []string{host},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("signing the serving certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
