package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// maxTokenBytes bounds what is parsed or sent to the API server: real
// tokens, with many groups, are a few KiB.
const maxTokenBytes = 64 << 10

// Mode is one entry of --auth: who recognizes a token, and who then
// decides what its user may do.
type Mode struct {
	Name          string
	Authenticator Authenticator
	Decider       Decider
}

// Chain tries a bearer token against each mode in order. The first mode
// that accepts it wins and its Decider authorizes the user; a mode that
// refuses a token it owns (a JWT of its issuer that is expired, say) ends
// the search, so the reason the caller sees is that issuer's.
type Chain struct {
	modes []Mode
}

// NewChain returns the modes as one Authorizer.
func NewChain(modes ...Mode) (*Chain, error) {
	if len(modes) == 0 {
		return nil, errors.New("auth: no authentication mode")
	}
	for _, m := range modes {
		if m.Authenticator == nil || m.Decider == nil {
			return nil, fmt.Errorf("auth: mode %q needs an authenticator and a decider", m.Name)
		}
	}
	return &Chain{modes: modes}, nil
}

// Single is the chain of one mode, which cannot fail to build when the
// mode has both parts.
func Single(m Mode) *Chain {
	c, err := NewChain(m)
	if err != nil {
		panic(err)
	}
	return c
}

// Modes names the modes in order.
func (c *Chain) Modes() []string {
	names := make([]string, len(c.modes))
	for i, m := range c.modes {
		names[i] = m.Name
	}
	return names
}

// Authenticate implements Authorizer.
func (c *Chain) Authenticate(ctx context.Context, token string, target Target) (*User, error) {
	if token == "" {
		return nil, ErrUnauthenticated
	}
	if len(token) > maxTokenBytes {
		return nil, refused("the token is larger than %d bytes", maxTokenBytes)
	}
	var reasons []string
	for _, m := range c.modes {
		u, err := m.Authenticator.AuthenticateToken(ctx, token, target)
		switch {
		case err == nil:
			// A copy: authenticators hand out their cached users.
			cu := *u
			cu.decider = m.Decider
			if cu.Via == "" {
				cu.Via = m.Name
			}
			return &cu, nil
		case errors.Is(err, ErrUnknownToken):
			if s := unknownReason(err); s != "" && !slices.Contains(reasons, s) {
				reasons = append(reasons, s)
			}
			continue
		default:
			return nil, err
		}
	}
	if len(reasons) == 0 {
		reasons = []string{"no authenticator accepts the token"}
	}
	return nil, &TokenError{Reason: strings.Join(reasons, "; ")}
}

// unknownReason is the text an authenticator wrapped ErrUnknownToken with.
func unknownReason(err error) string {
	s := err.Error()
	if s == ErrUnknownToken.Error() {
		return ""
	}
	return s
}

// Authorize implements Authorizer with the decider of the mode that
// authenticated u.
func (c *Chain) Authorize(ctx context.Context, u *User, a Attributes) (bool, error) {
	if u.decider == nil {
		return false, errors.New("auth: user was not authenticated by this chain")
	}
	return u.decider.Decide(ctx, u, a)
}

// unknown wraps ErrUnknownToken with a reason for the caller, used when no
// later mode accepts the token either.
func unknown(format string, args ...any) error {
	return &unknownError{reason: fmt.Sprintf(format, args...)}
}

type unknownError struct{ reason string }

func (e *unknownError) Error() string { return e.reason }
func (e *unknownError) Unwrap() error { return ErrUnknownToken }
