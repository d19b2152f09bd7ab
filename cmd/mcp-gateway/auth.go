package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
)

// authModes are the values of --auth, in the order a list may name them.
var authModes = []string{"oidc", "serviceaccount", "kubernetes", "tokens", "none"}

// authSetup is what the gateway's auth flags make: the chain, and the
// resources (--public-url) with their metadata.
type authSetup struct {
	chain     auth.Authorizer
	resources *auth.Resources
	modes     []string
}

// checkAuthModes validates --auth before anything is started.
func checkAuthModes(modes []string) error {
	if len(modes) == 0 {
		return errors.New("--auth is empty")
	}
	for i, m := range modes {
		if !slices.Contains(authModes, m) {
			return fmt.Errorf("--auth: unknown mode %q: want a comma list of %v", m, authModes)
		}
		if slices.Index(modes, m) != i {
			return fmt.Errorf("--auth: %q is listed twice", m)
		}
	}
	if slices.Contains(modes, "none") && len(modes) > 1 {
		return errors.New("--auth=none cannot be combined with other modes")
	}
	// TokenReview accepts every valid ServiceAccount token itself: a
	// serviceaccount mode after it would never be asked.
	if k, s := slices.Index(modes, "kubernetes"), slices.Index(modes, "serviceaccount"); k >= 0 && s > k {
		return errors.New("--auth: serviceaccount must come before kubernetes (TokenReview accepts ServiceAccount tokens itself)")
	}
	return nil
}

// buildAuth makes the chain of --auth.
func buildAuth(ctx context.Context, o options, cfg *rest.Config, client kubernetes.Interface, log *slog.Logger) (*authSetup, error) {
	modes := splitList(o.authMode)
	s := &authSetup{modes: modes}
	var err error
	if o.publicURLs != "" {
		if s.resources, err = auth.NewResources(splitList(o.publicURLs)); err != nil {
			return nil, fmt.Errorf("--public-url: %w", err)
		}
	}
	resource := s.resources != nil
	audiences := splitList(o.audiences)
	var chain []auth.Mode
	sar := auth.NewAccessReview(client, o.authCacheTTL)
	for _, m := range modes {
		switch m {
		case "oidc":
			mode, err := oidcMode(ctx, o, s.resources, sar, log)
			if err != nil {
				return nil, err
			}
			chain = append(chain, mode)
		case "serviceaccount":
			sa, err := auth.NewServiceAccounts(cfg, audiences, resource, o.authCacheTTL, log)
			if err != nil {
				return nil, err
			}
			_ = sa.Discover(ctx) // logged; until it works, tokens go on to the next mode
			chain = append(chain, auth.Mode{Name: m, Authenticator: sa, Decider: sar})
		case "kubernetes":
			chain = append(chain, auth.Mode{Name: m, Authenticator: auth.NewTokenReview(client, audiences, resource, o.authCacheTTL), Decider: sar})
		case "tokens":
			if o.tokensFile == "" {
				return nil, errors.New("--auth=tokens needs --tokens-file")
			}
			t, err := auth.LoadTokens(o.tokensFile)
			if err != nil {
				return nil, err
			}
			chain = append(chain, t.Mode())
		case "none":
			for range 3 {
				log.Warn("AUTH IS DISABLED (--auth=none): anyone who reaches this gateway can use every MCP server and restart them. Local development only.")
			}
			s.chain = auth.None{}
			return s, nil
		}
	}
	if s.chain, err = auth.NewChain(chain...); err != nil {
		return nil, err
	}
	return s, nil
}

// oidcMode is the oidc mode: the issuers of --oidc-config, which are also
// the authorization servers the resource metadata names.
func oidcMode(ctx context.Context, o options, res *auth.Resources, sar auth.Decider, log *slog.Logger) (auth.Mode, error) {
	if o.oidcConfig == "" {
		return auth.Mode{}, errors.New("--auth=oidc needs --oidc-config (an AuthenticationConfiguration file)")
	}
	if res == nil {
		return auth.Mode{}, errors.New("--auth=oidc needs --public-url: tokens are for the server's URL (RFC 8707), and the metadata clients discover names it")
	}
	issuers, err := auth.LoadOIDCConfig(o.oidcConfig)
	if err != nil {
		return auth.Mode{}, err
	}
	oidc := auth.NewOIDC(issuers, o.authCacheTTL, log)
	res.AuthorizationServers = oidc.Issuers()
	res.ScopesSupported = splitList(o.scopes)
	// Logged per issuer; an identity provider that is down is retried on
	// use, and its callers get 503 meanwhile.
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	_ = oidc.Discover(dctx)
	return auth.Mode{Name: "oidc", Authenticator: oidc, Decider: sar}, nil
}
