package auth

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"sigs.k8s.io/yaml"
)

// FuzzParseTokens feeds any file to the tokens parser. It never panics; a
// refusal names its line and never quotes what stands where the hash goes
// (a token pasted in clear); an accepted file holds hashes only and writes
// back (formatTokens) to a file that parses to the same tokens.
func FuzzParseTokens(f *testing.F) {
	h := HashToken("s3cret")
	for _, s := range []string{
		"# comment\n\nci " + h + " team-a/github,ops:team-a/*\n",
		"ops " + strings.ToUpper(h[7:]) + " ops:*/*\n",
		"root sha256:" + strings.ToUpper(h[7:]) + " ops:*/*\r\n",
		"ci my-secret-token team-a/github\n",
		"a " + h + " n/s\nb " + h + " n/s\n",
		"a " + h + " n/s\na " + HashToken("x") + " n/s\n",
		"ci " + h + " team-a/a/b,ops:ops:x/y\n",
		"ci " + h + " /,*/\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := ParseTokens(data)
		if err != nil {
			m := tokensErrorLine.FindStringSubmatch(err.Error())
			if m == nil {
				t.Fatalf("the error names no line: %v", err)
			}
			n, _ := strconv.Atoi(m[1])
			lines := strings.Split(string(data), "\n")
			if n < 1 || n > len(lines) {
				t.Fatalf("line %d of %d: %v", n, len(lines), err)
			}
			if fs := strings.Fields(lines[n-1]); len(fs) >= 2 && len(fs[1]) >= 8 && !strings.Contains(fs[0]+" "+strings.Join(fs[2:], " "), fs[1]) &&
				strings.Contains(err.Error(), fs[1]) {
				t.Fatalf("the error quotes the hash field %q: %v", fs[1], err)
			}
			return
		}
		again, err := ParseTokens([]byte(formatTokens(tk)))
		if err != nil {
			t.Fatalf("%q parsed, its re-encoding %q does not: %v", data, formatTokens(tk), err)
		}
		if formatTokens(again) != formatTokens(tk) {
			t.Fatalf("re-encoding changed the tokens: %q, then %q", formatTokens(tk), formatTokens(again))
		}
	})
}

var (
	tokensErrorLine = regexp.MustCompile(`^line ([0-9]+): `)
	fileHash        = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	oidcErrorField  = regexp.MustCompile(`^(apiVersion|kind|anonymous|jwt)\b`)
)

// formatTokens writes tokens in the file format, sorted by name.
func formatTokens(t *Tokens) string {
	var lines []string
	for hash, e := range t.byHash {
		if t.byName[e.name] != e || !fileHash.MatchString(hash) {
			return fmt.Sprintf("inconsistent entry %q %q", e.name, hash)
		}
		var grants []string
		for _, p := range e.use {
			grants = append(grants, p.ns+"/"+p.name)
		}
		for _, p := range e.ops {
			grants = append(grants, "ops:"+p.ns+"/"+p.name)
		}
		lines = append(lines, e.name+" "+hash+" "+strings.Join(grants, ",")+"\n")
	}
	if len(t.byName) != len(t.byHash) {
		return "names and hashes differ"
	}
	slices.Sort(lines)
	return strings.Join(lines, "")
}

// FuzzParseOIDCConfig feeds any file to the OIDC configuration parser. It
// never panics; a refusal is a decoding error or a list of field errors
// under the file's top-level fields; an accepted file has usable issuers
// (a URL the gateway may fetch, a username claim, distinct URLs) and,
// written back as an AuthenticationConfiguration, parses to the same ones.
func FuzzParseOIDCConfig(f *testing.F) {
	f.Add([]byte(goodConfig))
	f.Add([]byte(strings.Replace(goodConfig, "/v1\n", "/v1beta1\n", 1)))
	head := "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\n"
	for _, s := range []string{
		head + "jwt:\n- issuer: {url: https://a, discoveryURL: 'https://a/.well-known/x', certificateAuthority: nope}\n  claimMappings: {username: {claim: sub, prefix: ''}}\n",
		head + "jwt:\n- issuer: {url: 'http://[::1]:5556/dex', audiences: ['']}\n  claimMappings: {username: {expression: claims.sub}, groups: {claim: g}}\n",
		head + "anonymous: {enabled: true}\njwt:\n- issuer: {url: 'https://u@a?q#f'}\n  claimValidationRules: [{claim: ''}, {expression: 'true'}]\n",
		head + "jwt:\n- issuer: {url: https://a}\n  claimMappings: {username: {claim: sub, prefix: ''}}\n- issuer: {url: https://a}\n  claimMappings: {username: {claim: sub, prefix: ''}}\n",
		"apiVersion: v1\nkind: Foo\njwt: {}\n", "{", "- a\n- b\n", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		issuers, err := ParseOIDCConfig(data)
		if err != nil {
			checkOIDCConfigError(t, err)
			return
		}
		if len(issuers) == 0 {
			t.Fatal("accepted a file without issuers")
		}
		for i, ic := range issuers {
			if len(validateIssuerURL(field.NewPath("url"), ic.URL)) > 0 || ic.Username.Claim == "" ||
				slices.ContainsFunc(issuers[:i], func(o IssuerConfig) bool { return o.URL == ic.URL }) {
				t.Fatalf("accepted an unusable issuer %+v", ic)
			}
		}
		var cfg apiserverv1.AuthenticationConfiguration
		if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
			t.Fatalf("parsed, yet does not decode: %v", err)
		}
		again, err := ParseOIDCConfig(writeOIDCConfig(t, issuers, cfg))
		if err != nil {
			t.Fatalf("written back, it does not parse: %v", err)
		}
		if len(again) != len(issuers) {
			t.Fatalf("%d issuers, then %d", len(issuers), len(again))
		}
		for i := range issuers {
			if !sameIssuer(issuers[i], again[i]) {
				t.Fatalf("issuer %d changed: %+v, then %+v", i, issuers[i], again[i])
			}
		}
	})
}

// checkOIDCConfigError: every part of a refusal says where it is.
func checkOIDCConfigError(t *testing.T, err error) {
	t.Helper()
	if strings.HasPrefix(err.Error(), "decoding: ") {
		return
	}
	var agg utilerrors.Aggregate
	if !errors.As(err, &agg) || len(agg.Errors()) == 0 {
		t.Fatalf("neither a decoding error nor field errors: %T %v", err, err)
	}
	for _, e := range agg.Errors() {
		var fe *field.Error
		if !errors.As(e, &fe) || !oidcErrorField.MatchString(fe.Field) {
			t.Fatalf("an error without its field: %v", e)
		}
	}
}

// writeOIDCConfig is the inverse of ParseOIDCConfig, with the CA bundles
// (a pool does not give its PEM back) taken from the parsed file.
func writeOIDCConfig(t *testing.T, issuers []IssuerConfig, orig apiserverv1.AuthenticationConfiguration) []byte {
	t.Helper()
	cfg := apiserverv1.AuthenticationConfiguration{}
	cfg.APIVersion, cfg.Kind = oidcConfigGroup+"/v1", oidcConfigKind
	for i, ic := range issuers {
		j := apiserverv1.JWTAuthenticator{}
		j.Issuer.URL, j.Issuer.Audiences = ic.URL, ic.Audiences
		if ic.DiscoveryURL != "" {
			j.Issuer.DiscoveryURL = &ic.DiscoveryURL
		}
		if ic.CA != nil {
			j.Issuer.CertificateAuthority = orig.JWT[i].Issuer.CertificateAuthority
		}
		j.ClaimMappings.Username = apiserverv1.PrefixedClaimOrExpression{Claim: ic.Username.Claim, Prefix: &ic.Username.Prefix}
		if ic.Groups != (PrefixedClaim{}) {
			j.ClaimMappings.Groups = apiserverv1.PrefixedClaimOrExpression{Claim: ic.Groups.Claim, Prefix: &ic.Groups.Prefix}
		}
		j.ClaimMappings.UID.Claim = ic.UIDClaim
		for _, r := range ic.Rules {
			j.ClaimValidationRules = append(j.ClaimValidationRules, apiserverv1.ClaimValidationRule{Claim: r.Claim, RequiredValue: r.Value})
		}
		cfg.JWT = append(cfg.JWT, j)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameIssuer(a, b IssuerConfig) bool {
	if (a.CA == nil) != (b.CA == nil) || (a.CA != nil && !a.CA.Equal(b.CA)) {
		return false
	}
	a.CA, b.CA = nil, nil
	if len(a.Audiences) == 0 && len(b.Audiences) == 0 {
		a.Audiences, b.Audiences = nil, nil
	}
	return reflect.DeepEqual(a, b)
}
