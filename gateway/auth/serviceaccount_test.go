package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"
)

// A cluster that does not publish its issuer: ServiceAccount tokens go on
// to the next mode (TokenReview) instead of being refused.
func TestServiceAccountsNotPublished(t *testing.T) {
	t.Parallel()
	apiserver := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(apiserver.Close)
	sa, err := NewServiceAccounts(&rest.Config{Host: apiserver.URL}, nil, true, time.Minute, discardLog())
	require.NoError(t, err)
	assert.Error(t, sa.Discover(context.Background()))
	ti := newTestIssuer(t)
	_, err = sa.AuthenticateToken(context.Background(), sign(t, ti.key(0), ti.claimsFor(resource)), target)
	assert.ErrorIs(t, err, ErrUnknownToken)
	assert.NotErrorIs(t, err, ErrUnauthenticated)

	_, err = NewServiceAccounts(&rest.Config{Host: apiserver.URL}, nil, false, time.Minute, discardLog())
	assert.ErrorContains(t, err, "tokens meant for the API server")
}
