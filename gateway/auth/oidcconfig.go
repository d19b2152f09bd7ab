package auth

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"
	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"sigs.k8s.io/yaml"
)

// The file format is the kube-apiserver's structured authentication
// configuration, decoded into the upstream types (k8s.io/apiserver), so a
// jwt entry written for a cluster works here as it is. The gateway
// evaluates no CEL: entries that need it (expression, userValidationRules,
// extra) are refused with a message saying so, rather than half applied.
const (
	oidcConfigGroup = "apiserver.config.k8s.io"
	oidcConfigKind  = "AuthenticationConfiguration"
)

// IssuerConfig is one jwt entry of the file, validated.
type IssuerConfig struct {
	URL          string
	DiscoveryURL string // "" : URL + /.well-known/openid-configuration
	CA           *x509.CertPool
	// Audiences are gateway-wide: a token carrying one is good for every
	// server (RBAC still decides). A token for one server carries that
	// server's URL instead, which is always accepted for it.
	Audiences []string
	Username  PrefixedClaim
	Groups    PrefixedClaim
	UIDClaim  string
	Rules     []ClaimRule
}

// PrefixedClaim maps a claim to a user attribute with a prefix.
type PrefixedClaim struct{ Claim, Prefix string }

// ClaimRule requires a claim to have a value.
type ClaimRule struct{ Claim, Value string }

// LoadOIDCConfig reads an AuthenticationConfiguration file.
func LoadOIDCConfig(path string) ([]IssuerConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the OIDC configuration: %w", err)
	}
	issuers, err := ParseOIDCConfig(data)
	if err != nil {
		return nil, fmt.Errorf("OIDC configuration %s: %w", path, err)
	}
	return issuers, nil
}

// ParseOIDCConfig parses and validates the file's content; every problem
// is reported at once, with its field path.
func ParseOIDCConfig(data []byte) ([]IssuerConfig, error) {
	var cfg apiserverv1.AuthenticationConfiguration
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	var errs field.ErrorList
	switch cfg.APIVersion {
	case oidcConfigGroup + "/v1", oidcConfigGroup + "/v1beta1":
	default:
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), cfg.APIVersion, []string{oidcConfigGroup + "/v1", oidcConfigGroup + "/v1beta1"}))
	}
	if cfg.Kind != oidcConfigKind {
		errs = append(errs, field.NotSupported(field.NewPath("kind"), cfg.Kind, []string{oidcConfigKind}))
	}
	if cfg.Anonymous != nil {
		errs = append(errs, field.Forbidden(field.NewPath("anonymous"), "the gateway has no anonymous access (use --auth=none for local development)"))
	}
	if len(cfg.JWT) == 0 {
		errs = append(errs, field.Required(field.NewPath("jwt"), "at least one issuer"))
	}
	var out []IssuerConfig
	for i, j := range cfg.JWT {
		p := field.NewPath("jwt").Index(i)
		ic, ierrs := convertJWT(p, j)
		errs = append(errs, ierrs...)
		if slices.ContainsFunc(out, func(o IssuerConfig) bool { return o.URL == ic.URL }) {
			errs = append(errs, field.Duplicate(p.Child("issuer", "url"), ic.URL))
		}
		out = append(out, ic)
	}
	if len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	return out, nil
}

func convertJWT(p *field.Path, j apiserverv1.JWTAuthenticator) (IssuerConfig, field.ErrorList) {
	ic := IssuerConfig{URL: j.Issuer.URL, Audiences: j.Issuer.Audiences}
	errs := validateIssuerURL(p.Child("issuer", "url"), j.Issuer.URL)
	if j.Issuer.DiscoveryURL != nil {
		ic.DiscoveryURL = *j.Issuer.DiscoveryURL
		errs = append(errs, validateIssuerURL(p.Child("issuer", "discoveryURL"), ic.DiscoveryURL)...)
	}
	if ca := j.Issuer.CertificateAuthority; ca != "" {
		ic.CA = x509.NewCertPool()
		if !ic.CA.AppendCertsFromPEM([]byte(ca)) {
			errs = append(errs, field.Invalid(p.Child("issuer", "certificateAuthority"), "<PEM>", "no PEM certificate in it"))
		}
	}
	if m := j.Issuer.AudienceMatchPolicy; m != "" && m != apiserverv1.AudienceMatchPolicyMatchAny {
		errs = append(errs, field.NotSupported(p.Child("issuer", "audienceMatchPolicy"), m, []string{string(apiserverv1.AudienceMatchPolicyMatchAny)}))
	}
	if j.Issuer.EgressSelectorType != "" {
		errs = append(errs, field.Forbidden(p.Child("issuer", "egressSelectorType"), "the gateway has no egress selector"))
	}
	for i, a := range ic.Audiences {
		if a == "" {
			errs = append(errs, field.Required(p.Child("issuer", "audiences").Index(i), "an audience"))
		}
	}
	var merrs field.ErrorList
	ic.Username, merrs = prefixedClaim(p.Child("claimMappings", "username"), j.ClaimMappings.Username, true)
	errs = append(errs, merrs...)
	ic.Groups, merrs = prefixedClaim(p.Child("claimMappings", "groups"), j.ClaimMappings.Groups, false)
	errs = append(errs, merrs...)
	ic.UIDClaim = j.ClaimMappings.UID.Claim
	if j.ClaimMappings.UID.Expression != "" {
		errs = append(errs, noCEL(p.Child("claimMappings", "uid", "expression")))
	}
	if len(j.ClaimMappings.Extra) > 0 {
		errs = append(errs, noCEL(p.Child("claimMappings", "extra")))
	}
	if len(j.UserValidationRules) > 0 {
		errs = append(errs, noCEL(p.Child("userValidationRules")))
	}
	for i, r := range j.ClaimValidationRules {
		rp := p.Child("claimValidationRules").Index(i)
		switch {
		case r.Expression != "":
			errs = append(errs, noCEL(rp.Child("expression")))
		case r.Claim == "":
			errs = append(errs, field.Required(rp.Child("claim"), "the claim whose value is required"))
		default:
			ic.Rules = append(ic.Rules, ClaimRule{Claim: r.Claim, Value: r.RequiredValue})
		}
	}
	return ic, errs
}

func prefixedClaim(p *field.Path, c apiserverv1.PrefixedClaimOrExpression, required bool) (PrefixedClaim, field.ErrorList) {
	var errs field.ErrorList
	if c.Expression != "" {
		errs = append(errs, noCEL(p.Child("expression")))
	}
	switch {
	case c.Claim == "" && required:
		errs = append(errs, field.Required(p.Child("claim"), "the claim that names the user"))
	case c.Claim != "" && c.Prefix == nil:
		// As in the API server: an explicit prefix, "" for none, so that
		// users of different issuers cannot be confused by accident.
		errs = append(errs, field.Required(p.Child("prefix"), `required when claim is set; "" for no prefix`))
	}
	out := PrefixedClaim{Claim: c.Claim}
	if c.Prefix != nil {
		out.Prefix = *c.Prefix
	}
	return out, errs
}

func noCEL(p *field.Path) *field.Error {
	return field.Forbidden(p, "CEL expressions are not supported by the gateway; use claim (and prefix, requiredValue)")
}

// validateIssuerURL wants https, as the API server does, except on
// loopback (a test or local identity provider).
func validateIssuerURL(p *field.Path, s string) field.ErrorList {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return field.ErrorList{field.Required(p, "")}
	case err != nil || u.Host == "":
		return field.ErrorList{field.Invalid(p, s, "not an absolute URL")}
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return field.ErrorList{field.Invalid(p, s, "must not have user info, query or fragment")}
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return field.ErrorList{field.Invalid(p, s, "must use https (http only on loopback)")}
	}
	return nil
}
