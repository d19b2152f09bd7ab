package oidc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"time"
)

// WithPublicAddress serves the issuer (discovery, JWKS, authorize, token)
// over https on ip instead of plain http on 127.0.0.1, with a certificate
// from a CA made for this provider (CACertPEM): for an issuer that pods
// must reach, such as the end-to-end cluster's bridge address. The admin
// API, the login app and Hydra itself stay on loopback.
func WithPublicAddress(ip string) Option {
	return func(c *config) { c.publicIP = ip }
}

// CACertPEM is the CA that signs the issuer's certificate (nil without
// WithPublicAddress): what an identity provider's relying party trusts,
// e.g. issuer.certificateAuthority of an AuthenticationConfiguration.
func (p *Provider) CACertPEM() []byte { return p.caPEM }

// HTTPClient is a client that trusts the issuer, for the MCP SDK's OAuth
// handlers and for other callers of the issuer's endpoints.
func (p *Provider) HTTPClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: p.transport()}
}

// transport trusts the issuer's CA, if any, on top of the system's.
func (p *Provider) transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil // the issuer is on this host
	if p.caPool != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: p.caPool, MinVersion: tls.VersionTLS12}
	}
	return t
}

// issuerCert makes a CA and a serving certificate for ip signed by it.
func issuerCert(ip string) (tls.Certificate, []byte, *x509.CertPool, error) {
	addr := net.ParseIP(ip)
	if addr == nil {
		return tls.Certificate{}, nil, nil, fmt.Errorf("public address %q is not an IP", ip)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "oidc test provider CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, nil, fmt.Errorf("CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: ip},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{addr}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, nil, fmt.Errorf("serving certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}, caPEM, pool, nil
}
