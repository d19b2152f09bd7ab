// Package certmanager builds the cert-manager objects of the cert-manager
// install mode: a self-signed Issuer and the webhook's serving Certificate.
// The manifests are generated from it (see objects_test.go), so the
// cert-manager API types check every field. The webhook binary does not
// import this package.
package certmanager

import (
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Names shared with the manifests.
const (
	IssuerName = "mcp-webhook-selfsigned"
	SecretName = "mcp-webhook-tls"
)

// Objects returns the Issuer and the Certificate for the webhook Service
// in namespace. cert-manager renews the certificate before it expires and
// its CA injector copies the CA into both webhook configurations (their
// cert-manager.io/inject-ca-from annotation names this Certificate).
func Objects(namespace, service string) (*cmapi.Issuer, *cmapi.Certificate) {
	issuer := &cmapi.Issuer{
		TypeMeta:   metav1.TypeMeta{APIVersion: cmapi.SchemeGroupVersion.String(), Kind: cmapi.IssuerKind},
		ObjectMeta: metav1.ObjectMeta{Name: IssuerName, Namespace: namespace},
		Spec:       cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{SelfSigned: &cmapi.SelfSignedIssuer{}}},
	}
	cert := &cmapi.Certificate{
		TypeMeta:   metav1.TypeMeta{APIVersion: cmapi.SchemeGroupVersion.String(), Kind: cmapi.CertificateKind},
		ObjectMeta: metav1.ObjectMeta{Name: SecretName, Namespace: namespace},
		Spec: cmapi.CertificateSpec{
			SecretName: SecretName,
			CommonName: service + "." + namespace + ".svc",
			DNSNames: []string{
				service + "." + namespace + ".svc",
				service + "." + namespace + ".svc.cluster.local",
			},
			Duration:    &metav1.Duration{Duration: 90 * 24 * 3600 * 1e9},
			RenewBefore: &metav1.Duration{Duration: 30 * 24 * 3600 * 1e9},
			PrivateKey:  &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 256, RotationPolicy: cmapi.RotationPolicyAlways},
			Usages:      []cmapi.KeyUsage{cmapi.UsageServerAuth, cmapi.UsageDigitalSignature},
			IssuerRef:   cmmeta.IssuerReference{Name: IssuerName, Kind: cmapi.IssuerKind, Group: "cert-manager.io"},
		},
	}
	return issuer, cert
}
