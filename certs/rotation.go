package certs

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"time"
)

// Keys of the CA rotation: a new CA is staged (trusted, not yet signing)
// for an overlap before it signs, and the previous one stays trusted for an
// overlap after. The API server therefore trusts both the certificate being
// served and its successor at every moment, whichever replica answers.
const (
	KeyCANextCert     = "ca-next.crt"
	KeyCANextKey      = "ca-next.key"
	KeyCAPreviousCert = "ca-previous.crt"
	// KeyCABundle is what goes into the webhook configurations' caBundle.
	KeyCABundle = "ca-bundle.crt"
)

// rotation is the lifecycle of a self-signed CA and the one certificate it
// signs (the webhook's serving certificate, or the gateway's client
// certificate), kept in the data of one Secret. Its lifetimes are as
// documented on SelfSigned.
type rotation struct {
	CAValidity, CertValidity, RenewBefore time.Duration
	CARenewBefore, CAOverlap              time.Duration
	// caName is the CA's common name.
	caName string
	// issueLeaf signs the certificate; checkLeaf says why a parsed one is
	// not the right one (wrong hosts, wrong usage), nil if it is.
	issueLeaf func(ca *CA, now time.Time, validity time.Duration) (Pair, error)
	checkLeaf func(leaf *x509.Certificate) error
	// leafName names the certificate in step reasons.
	leafName string
}

// step is one change of the Secret's data that rotation needs now.
type step struct {
	data   map[string][]byte
	reason string
}

// plan returns the next change the Secret data needs at now, or nil, and
// when to look again at the latest. Only one change is made per call, so
// each is written (and seen by every replica) before the next.
func (s rotation) plan(data map[string][]byte, now time.Time) (*step, time.Duration, error) {
	ca, err := parseCA(data[KeyCACert], data[KeyCAKey])
	if err != nil || !now.Before(ca.cert.NotAfter) {
		// Nothing usable (first start, or the cluster was off past the
		// CA's end): start over; there is nothing to overlap with.
		fresh, err := s.fresh(now)
		return &step{fresh, "no valid CA"}, 0, err
	}
	out := maps.Clone(data)
	next, nextErr := parseCA(data[KeyCANextCert], data[KeyCANextKey])
	leaf, leafErr := s.leaf(data, ca, now)

	switch {
	case nextErr == nil && !now.Before(issued(next.cert).Add(s.CAOverlap)):
		// The staged CA has been trusted for an overlap: it signs now.
		out[KeyCAPreviousCert] = ca.PEM
		out[KeyCACert], out[KeyCAKey] = next.PEM, data[KeyCANextKey]
		delete(out, KeyCANextCert)
		delete(out, KeyCANextKey)
		if err := s.issue(out, next, now); err != nil {
			return nil, 0, err
		}
		return s.finish(out, "new CA signs", now)
	case nextErr != nil && !now.Before(ca.cert.NotAfter.Add(-s.CARenewBefore)):
		staged, err := newCA(s.caName, now, s.CAValidity)
		if err != nil {
			return nil, 0, err
		}
		out[KeyCANextCert], out[KeyCANextKey] = staged.PEM, marshalKey(staged)
		return s.finish(out, "new CA staged", now)
	case leafErr != nil || !now.Before(leaf.NotAfter.Add(-s.RenewBefore)):
		if err := s.issue(out, ca, now); err != nil {
			return nil, 0, err
		}
		reason := "due"
		if leafErr != nil {
			reason = leafErr.Error()
		}
		return s.finish(out, s.leafName+" renewed: "+reason, now)
	}
	// The previous CA is dropped once the current serving certificate has
	// been out for an overlap.
	if _, ok := data[KeyCAPreviousCert]; ok && !now.Before(issued(leaf).Add(s.CAOverlap)) {
		delete(out, KeyCAPreviousCert)
		return s.finish(out, "previous CA retired", now)
	}
	if !bytes.Equal(data[KeyCABundle], bundle(out, now)) {
		return s.finish(out, "CA bundle updated", now)
	}
	return nil, s.wake(data, ca, next, leaf, now), nil
}

// finish sets the bundle of data and returns the step.
func (s rotation) finish(data map[string][]byte, reason string, now time.Time) (*step, time.Duration, error) {
	data[KeyCABundle] = bundle(data, now)
	return &step{data, reason}, 0, nil
}

// wake is the first moment plan has something to do.
func (s rotation) wake(data map[string][]byte, ca, next *CA, leaf *x509.Certificate, now time.Time) time.Duration {
	at := leaf.NotAfter.Add(-s.RenewBefore)
	consider := func(t time.Time) {
		if t.Before(at) {
			at = t
		}
	}
	if next != nil {
		consider(issued(next.cert).Add(s.CAOverlap))
	} else {
		consider(ca.cert.NotAfter.Add(-s.CARenewBefore))
	}
	if _, ok := data[KeyCAPreviousCert]; ok {
		consider(issued(leaf).Add(s.CAOverlap))
	}
	return max(at.Sub(now), 0)
}

// issued is when c was made: every certificate is backdated by clockSkew.
func issued(c *x509.Certificate) time.Time { return c.NotBefore.Add(clockSkew) }

// bundle is the signing CA, the staged one and the previous one, those
// that are still valid at now.
func bundle(data map[string][]byte, now time.Time) []byte {
	var out []byte
	for _, k := range []string{KeyCACert, KeyCANextCert, KeyCAPreviousCert} {
		b, _ := pem.Decode(data[k])
		if b == nil {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil && now.Before(c.NotAfter) {
			out = append(out, pem.EncodeToMemory(b)...)
		}
	}
	return out
}

func (s rotation) fresh(now time.Time) (map[string][]byte, error) {
	ca, err := newCA(s.caName, now, s.CAValidity)
	if err != nil {
		return nil, err
	}
	data := map[string][]byte{KeyCACert: ca.PEM, KeyCAKey: marshalKey(ca)}
	if err := s.issue(data, ca, now); err != nil {
		return nil, err
	}
	data[KeyCABundle] = bundle(data, now)
	return data, nil
}

// issue puts a certificate from ca into data; it never outlives ca.
func (s rotation) issue(data map[string][]byte, ca *CA, now time.Time) error {
	validity := min(s.CertValidity, ca.cert.NotAfter.Sub(now))
	pair, err := s.issueLeaf(ca, now, validity)
	if err != nil {
		return err
	}
	data[KeyCert], data[KeyKey] = pair.CertPEM, pair.KeyPEM
	return nil
}

// leaf is the certificate of data, if it is usable: it parses, is the
// right one (checkLeaf) and chains to ca.
func (s rotation) leaf(data map[string][]byte, ca *CA, now time.Time) (*x509.Certificate, error) {
	pair, err := tls.X509KeyPair(data[KeyCert], data[KeyKey])
	if err != nil {
		return nil, fmt.Errorf("no usable %s: %w", s.leafName, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, err
	}
	if err := s.checkLeaf(leaf); err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	// A certificate that is not valid yet was made by a replica whose clock
	// is ahead of ours (by more than clockSkew): it is still the right one,
	// and replacing it would start a fight between the two replicas.
	at := now
	for _, nb := range []time.Time{leaf.NotBefore, ca.cert.NotBefore} {
		if at.Before(nb) {
			at = nb
		}
	}
	// Any usage: checkLeaf has judged it.
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("%s does not chain to the CA", s.leafName)
	}
	return leaf, nil
}

func marshalKey(ca *CA) []byte {
	der, err := x509.MarshalECPrivateKey(ca.key)
	if err != nil {
		panic(err) // a P-256 key we generated always marshals
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}
