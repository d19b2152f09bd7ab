package conformance

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunReferenceServers runs the suite through Run against the Go SDK's
// everything-server (hack/build-mcpservers.sh) in the HTTP modes where it
// conforms, and in one where it does not, so Run and RequireAllPass are
// tested on real runs of the suite.
func TestRunReferenceServers(t *testing.T) {
	if testing.Short() {
		t.Skip("installs the suite and builds the reference servers")
	}
	t.Parallel()
	current, legacy := everythingServers(t)

	tests := []struct {
		name     string
		server   []string
		revision string
		failed   []string // "scenario [check]" expected to fail; nil: RequireAllPass
	}{
		{name: "v1.8 stateless 2026-07-28", server: []string{current, "-stateless=true"}, revision: "2026-07-28"},
		{name: "v1.8 stateful 2025-11-25", server: []string{current, "-stateless=false"}, revision: "2025-11-25"},
		{name: "v1.4.1 2025-11-25", server: []string{legacy}, revision: "2025-11-25"},
		{
			// Stateless HTTP has no stream for server-to-client requests.
			name: "v1.8 stateless 2025-11-25", server: []string{current, "-stateless=true"}, revision: "2025-11-25",
			failed: []string{
				"tools-call-sampling [tools-call-sampling]",
				"tools-call-elicitation [tools-call-elicitation]",
				"elicitation-sep1034-defaults [elicitation-sep1034-general]",
				"elicitation-sep1330-enums [elicitation-sep1330-general]",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := StartHTTPServer(t, tt.server)
			res := Run(t, url, tt.revision)
			require.NotEmpty(t, res.Scenarios)
			if tt.failed == nil {
				RequireAllPass(t, res)
				return
			}
			var got []string
			for _, f := range res.Failures(false) {
				got = append(got, f.Scenario+" ["+f.CheckID+"]")
			}
			assert.ElementsMatch(t, tt.failed, got)
		})
	}
}
