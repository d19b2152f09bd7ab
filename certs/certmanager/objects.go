// Package certmanager builds the cert-manager objects of the cert-manager
// install mode: a self-signed Issuer and the webhook's serving Certificate,
// and the CA and client Certificate of the gateway (GatewayObjects).
// The manifests are generated from it (see objects_test.go), so the
// cert-manager API types check every field. The webhook binary does not
// import this package.
package certmanager

import (
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Names shared with the manifests.
const (
	IssuerName = "mcp-webhook-selfsigned"
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
		ObjectMeta: metav1.ObjectMeta{Name: api.WebhookTLSSecret, Namespace: namespace},
		Spec: cmapi.CertificateSpec{
			SecretName: api.WebhookTLSSecret,
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

// Names of the gateway client certificate's cert-manager objects. The
// Secrets' names are the ones self-signed mode uses (api.GatewayCASecret
// and api.GatewayClientSecret), so the rest of the product is the same in
// both modes.
const (
	GatewayBootstrapIssuer = "mcp-gateway-ca-bootstrap"
	GatewayCAName          = api.GatewayCASecret
	GatewayCAIssuer        = "mcp-gateway-client-ca"
	GatewayClientName      = api.GatewayClientSecret
)

// GatewayObjects returns what issues the gateway's client certificate: a
// self-signed Issuer that only bootstraps a CA Certificate, a CA Issuer of
// that CA, and the gateway's client Certificate. The CA keeps its key when
// cert-manager renews it (rotationPolicy Never), so the renewed CA
// certificate verifies every client certificate the old one signed; the
// controller also keeps publishing the old CA certificate to the sidecars
// until it expires. The client certificate gets a new key at each renewal.
func GatewayObjects(namespace string) []any {
	issuerRef := func(name string) cmmeta.IssuerReference {
		return cmmeta.IssuerReference{Name: name, Kind: cmapi.IssuerKind, Group: "cert-manager.io"}
	}
	bootstrap := &cmapi.Issuer{
		TypeMeta:   metav1.TypeMeta{APIVersion: cmapi.SchemeGroupVersion.String(), Kind: cmapi.IssuerKind},
		ObjectMeta: metav1.ObjectMeta{Name: GatewayBootstrapIssuer, Namespace: namespace},
		Spec:       cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{SelfSigned: &cmapi.SelfSignedIssuer{}}},
	}
	ca := &cmapi.Certificate{
		TypeMeta:   metav1.TypeMeta{APIVersion: cmapi.SchemeGroupVersion.String(), Kind: cmapi.CertificateKind},
		ObjectMeta: metav1.ObjectMeta{Name: GatewayCAName, Namespace: namespace},
		Spec: cmapi.CertificateSpec{
			SecretName:  GatewayCAName,
			CommonName:  "mcp-orchestrator-gateway-client-ca",
			IsCA:        true,
			Duration:    &metav1.Duration{Duration: 5 * 365 * 24 * time.Hour},
			RenewBefore: &metav1.Duration{Duration: 365 * 24 * time.Hour},
			PrivateKey:  &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 256, RotationPolicy: cmapi.RotationPolicyNever},
			Usages:      []cmapi.KeyUsage{cmapi.UsageCertSign, cmapi.UsageCRLSign},
			IssuerRef:   issuerRef(GatewayBootstrapIssuer),
		},
	}
	caIssuer := &cmapi.Issuer{
		TypeMeta:   metav1.TypeMeta{APIVersion: cmapi.SchemeGroupVersion.String(), Kind: cmapi.IssuerKind},
		ObjectMeta: metav1.ObjectMeta{Name: GatewayCAIssuer, Namespace: namespace},
		Spec:       cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: GatewayCAName}}},
	}
	client := &cmapi.Certificate{
		TypeMeta:   metav1.TypeMeta{APIVersion: cmapi.SchemeGroupVersion.String(), Kind: cmapi.CertificateKind},
		ObjectMeta: metav1.ObjectMeta{Name: GatewayClientName, Namespace: namespace},
		Spec: cmapi.CertificateSpec{
			SecretName:  GatewayClientName,
			CommonName:  "mcp-gateway",
			Duration:    &metav1.Duration{Duration: 90 * 24 * time.Hour},
			RenewBefore: &metav1.Duration{Duration: 30 * 24 * time.Hour},
			PrivateKey:  &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 256, RotationPolicy: cmapi.RotationPolicyAlways},
			Usages:      []cmapi.KeyUsage{cmapi.UsageClientAuth, cmapi.UsageDigitalSignature},
			IssuerRef:   issuerRef(GatewayCAIssuer),
		},
	}
	return []any{bootstrap, ca, caIssuer, client}
}
