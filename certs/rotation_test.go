package certs

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testSource() *SelfSigned {
	s := &SelfSigned{Hosts: []string{"mcp-webhook.mcp-system.svc", "127.0.0.1"},
		CAValidity: 100 * time.Minute, CARenewBefore: 30 * time.Minute, CAOverlap: 5 * time.Minute,
		CertValidity: 30 * time.Minute, RenewBefore: 10 * time.Minute}
	s.defaults()
	return s
}

// verifies reports whether the serving certificate of data is trusted by
// a client holding bundle at now, as the API server would check it.
func verifies(t *testing.T, data map[string][]byte, bundle []byte, now time.Time) bool {
	t.Helper()
	pair, err := tls.X509KeyPair(data[KeyCert], data[KeyKey])
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	require.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(bundle)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "mcp-webhook.mcp-system.svc", CurrentTime: now})
	return err == nil
}

func pemCount(b []byte) int {
	n := 0
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return n
		}
		n++
	}
}

// Three CA lifetimes in 30-second ticks: at every change, the certificate
// served before is trusted by the bundle after, and the certificate served
// after by the bundle before (a replica or the API server that has not
// caught up yet). That is "no failed admission" for any interleaving.
func TestRotationAlwaysOverlaps(t *testing.T) {
	t.Parallel()
	s := testSource()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	data, err := s.fresh(start)
	require.NoError(t, err)
	reasons := map[string]int{}
	for now := start; now.Before(start.Add(300 * time.Minute)); now = now.Add(30 * time.Second) {
		require.True(t, verifies(t, data, data[KeyCABundle], now), "served certificate trusted at %s", now.Sub(start))
		for range 4 {
			st, wait, err := s.plan(data, now)
			require.NoError(t, err)
			if st == nil {
				assert.Greater(t, wait, time.Duration(0))
				break
			}
			require.NotEqual(t, "no valid CA", st.reason, "never starts over at %s", now.Sub(start))
			reasons[st.reason]++
			assert.True(t, verifies(t, data, st.data[KeyCABundle], now), "%s: old certificate, new bundle", st.reason)
			assert.True(t, verifies(t, st.data, data[KeyCABundle], now), "%s: new certificate, old bundle", st.reason)
			assert.LessOrEqual(t, pemCount(st.data[KeyCABundle]), 3)
			data = st.data
		}
	}
	t.Logf("steps: %v", reasons)
	assert.GreaterOrEqual(t, reasons["new CA staged"], 3)
	assert.GreaterOrEqual(t, reasons["new CA signs"], 3)
	assert.GreaterOrEqual(t, reasons["previous CA retired"], 3)
	assert.GreaterOrEqual(t, reasons["serving certificate renewed: due"], 6)
	assert.Equal(t, 1+boolInt(data[KeyCANextCert] != nil)+boolInt(data[KeyCAPreviousCert] != nil), pemCount(data[KeyCABundle]),
		"the bundle is the signing CA, plus the staged and the previous one while they exist")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestPlanRepairs(t *testing.T) {
	t.Parallel()
	s := testSource()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	good, err := s.fresh(now)
	require.NoError(t, err)
	without := func(keys ...string) map[string][]byte {
		d := maps.Clone(good)
		for _, k := range keys {
			delete(d, k)
		}
		return d
	}
	other := testSource()
	other.Hosts = []string{"elsewhere.example.com"}
	wrongHost, err := other.fresh(now)
	require.NoError(t, err)
	wrongHost[KeyCACert], wrongHost[KeyCAKey] = good[KeyCACert], good[KeyCAKey]

	tests := []struct {
		name   string
		data   map[string][]byte
		at     time.Time
		reason string
	}{
		{"empty", map[string][]byte{}, now, "no valid CA"},
		{"CA expired", good, now.Add(101 * time.Minute), "no valid CA"},
		{"written by an older version: no bundle", without(KeyCABundle), now, "CA bundle updated"},
		{"serving certificate lost", without(KeyCert), now, "serving certificate renewed: no usable serving certificate: tls: failed to find any PEM data in certificate input"},
		{"serving certificate of another CA or host", wrongHost, now, "serving certificate renewed: serving certificate is not valid for mcp-webhook.mcp-system.svc"},
		{"nothing to do", good, now.Add(time.Minute), ""},
		{"made by a replica whose clock is 10 minutes ahead", good, now.Add(-10 * time.Minute), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, _, err := s.plan(tt.data, tt.at)
			require.NoError(t, err)
			if tt.reason == "" {
				assert.Empty(t, reason(st), "no step") // never print the step: it holds keys
				return
			}
			require.NotNil(t, st)
			assert.Equal(t, tt.reason, st.reason)
			again, _, err := s.plan(st.data, tt.at)
			require.NoError(t, err)
			assert.Empty(t, reason(again), "one step repairs it")
		})
	}
}

// A serving certificate never outlives the CA that signed it.
func TestServingCertificateEndsWithItsCA(t *testing.T) {
	t.Parallel()
	s := testSource()
	s.CertValidity = 10 * time.Hour
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	data, err := s.fresh(now)
	require.NoError(t, err)
	leaf, err := tls.X509KeyPair(data[KeyCert], data[KeyKey])
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(leaf.Certificate[0])
	require.NoError(t, err)
	assert.Equal(t, now.Add(s.CAValidity), cert.NotAfter.UTC())
}

// reason of a step, "" for none: tests compare this, never the step, whose
// data holds private keys that a failure would print.
func reason(st *step) string {
	if st == nil {
		return ""
	}
	return st.reason
}
