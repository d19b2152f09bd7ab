package proxy

import (
	"bufio"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A response streaming while the gateway's certificate changes (an answer
// with progress notifications, a standing stream) goes on to its end on
// its connection: the switch to new inner transports closes only what is
// idle.
func TestStreamInFlightOutlivesACertificateChange(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	url, ca := newSidecarStandIn(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/short" {
			_, _ = io.WriteString(w, "{}")
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "event: message\ndata: {\"progress\":1}\n\n")
		http.NewResponseController(w).Flush()
		<-release
		_, _ = io.WriteString(w, "event: message\ndata: {\"result\":{}}\n\n")
	}))

	var current atomic.Pointer[tls.Certificate]
	current.Store(clientPair(t, ca))
	rt := NewUpstreamTransport(time.Second, 10*time.Second, func() (*tls.Certificate, error) { return current.Load(), nil })
	for _, standing := range []bool{false, true} {
		req, err := http.NewRequest(http.MethodPost, url+"/stream", strings.NewReader("{}"))
		require.NoError(t, err)
		if standing {
			req = req.WithContext(WithStanding(req.Context()))
		}
		resp, err := rt.RoundTrip(req)
		require.NoError(t, err)
		rd := bufio.NewReader(resp.Body)
		first, err := rd.ReadString('\n')
		require.NoError(t, err)
		assert.Contains(t, first, "event: message")

		current.Store(clientPair(t, ca)) // renewed
		short, err := http.NewRequest(http.MethodPost, url+"/short", strings.NewReader("{}"))
		require.NoError(t, err)
		sresp, err := rt.RoundTrip(short)
		require.NoError(t, err, "a request after the change goes through the new transports")
		_, _ = io.Copy(io.Discard, sresp.Body)
		sresp.Body.Close()

		release <- struct{}{}
		rest, err := io.ReadAll(rd)
		require.NoError(t, err, "standing %v: the stream in flight is not cut", standing)
		assert.Contains(t, string(rest), `"result"`, "standing %v", standing)
		resp.Body.Close()
	}
}
