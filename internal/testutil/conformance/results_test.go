package conformance

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The testdata runs were captured with hack/conformance.sh against the go-sdk
// v1.8.0 everything-server in stateless HTTP mode (-stateless=true): at
// 2025-11-25 it cannot send sampling or elicitation requests to the client,
// so four scored scenarios fail; at 2026-07-28 the tasks extension (not
// scored) fails.

func TestParseFullRun(t *testing.T) {
	t.Parallel()
	req, err := LoadRequirements("testdata/requirements-2025-11-25.yaml")
	require.NoError(t, err)
	got, err := Parse("testdata/go-sdk-v1.8.0-stateless-2025-11-25", req)
	require.NoError(t, err)
	require.Len(t, got, 33, "30 scored + 3 not scored")
	res := Result{Scenarios: got}

	tests := []struct {
		scenario  string
		state     State
		notScored string
		failed    []string // ids of the FAILURE checks
		warnings  int
	}{
		{scenario: "server-initialize", state: Pass},
		{scenario: "tools-list", state: Pass},
		{scenario: "tools-call-sampling", state: Fail, failed: []string{"tools-call-sampling"}},
		{scenario: "tools-call-elicitation", state: Fail, failed: []string{"tools-call-elicitation"}},
		{scenario: "elicitation-sep1034-defaults", state: Fail, failed: []string{"elicitation-sep1034-general"}},
		{scenario: "elicitation-sep1330-enums", state: Fail, failed: []string{"elicitation-sep1330-general"}},
		{scenario: "server-sse-multiple-streams", state: Pass, warnings: 1},
		{scenario: "server-sse-polling", state: Pass, notScored: "pending", warnings: 2},
		{scenario: "server-session-lifecycle", state: Pass, notScored: "added-after-release"},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			t.Parallel()
			s, ok := res.Scenario(tt.scenario)
			require.True(t, ok)
			assert.Equal(t, tt.state, s.State)
			assert.Equal(t, tt.notScored, s.NotScored)
			var failed []string
			warnings := 0
			for _, c := range s.Checks {
				switch c.Status {
				case CheckFailure:
					failed = append(failed, c.ID)
				case CheckWarning:
					warnings++
				}
			}
			assert.Equal(t, tt.failed, failed)
			assert.Equal(t, tt.warnings, warnings)
		})
	}

	assert.Equal(t, "required: 29/33 scenarios passed, 64 checks ok, 4 failed; not required: 0/0 scenarios passed, 0 checks ok, 0 failed",
		res.Counts(), "the four failing scenarios fail one check each")
	failures := res.Failures(false)
	require.Len(t, failures, 4)
	assert.Equal(t, "tools-call-sampling [tools-call-sampling]: Server did not request sampling from client",
		failures[0].String())
}

func TestParseSubsetRun(t *testing.T) {
	t.Parallel()
	req, err := LoadRequirements("testdata/requirements-2026-07-28-subset.yaml")
	require.NoError(t, err)
	got, err := Parse("testdata/go-sdk-v1.8.0-stateless-2026-07-28", req)
	require.NoError(t, err)
	res := Result{Scenarios: got}

	states := map[string]State{}
	for _, s := range got {
		states[s.Name] = s.State
	}
	assert.Equal(t, map[string]State{
		"caching": Pass,
		"input-required-result-basic-elicitation": Pass,
		"resources-list":  NotRun, // listed, not captured
		"tasks-lifecycle": Fail,   // the client-leg entry is not a server scenario
	}, states)

	scored := res.Failures(false)
	require.Len(t, scored, 1)
	assert.Equal(t, Failure{Scenario: "resources-list", Message: "scenario did not run"}, scored[0])
	all := res.Failures(true)
	assert.Len(t, all, 1+8, "plus tasks-lifecycle's eight failed checks")
}

func TestParseCrashedAndOnly(t *testing.T) {
	t.Parallel()
	// A scenario that throws leaves its dir without checks.json: make one
	// from a captured dir.
	dir := t.TempDir()
	src := "testdata/go-sdk-v1.8.0-stateless-2026-07-28"
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, e.Name()), 0o755))
		if e.Name() == "server-caching-2026-12-01T07-36-56-564Z" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name(), "checks.json"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name(), "checks.json"), b, 0o644))
	}
	req, err := LoadRequirements("testdata/requirements-2026-07-28-subset.yaml")
	require.NoError(t, err)

	got, err := Parse(dir, req, "caching", "tasks-lifecycle", "not-in-the-set")
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, Scenario{Name: "caching", State: Crashed}, got[0])
	assert.Equal(t, "extension", got[1].NotScored)
	assert.Equal(t, Scenario{Name: "not-in-the-set", State: NotRun}, got[2])
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	_, err := Parse(filepath.Join(t.TempDir(), "missing"), Requirements{})
	require.Error(t, err)

	dir := t.TempDir()
	bad := filepath.Join(dir, "server-ping-2026-12-01T07-40-33-300Z")
	require.NoError(t, os.MkdirAll(bad, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bad, "checks.json"), []byte("{"), 0o644))
	_, err = Parse(dir, Requirements{Server: []string{"ping"}})
	require.ErrorContains(t, err, "parse ping results")

	_, err = LoadRequirements(filepath.Join(dir, "none.yaml"))
	require.Error(t, err)
}
