package api_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

func TestParseHibernateAfter(t *testing.T) {
	t.Parallel()
	var pattern string
	for _, a := range api.Annotations {
		if a.Key == api.AnnHibernateAfter {
			pattern = a.Pattern
		}
	}
	schema := regexp.MustCompile(pattern)
	for _, tt := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{in: "off", want: 0},
		{in: "30m", want: 30 * time.Minute},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "2.5m", want: 150 * time.Second},
		{in: "10s", want: 10 * time.Second}, // the floor is the caller's
		{in: "0s", err: true},
		{in: "-5m", err: true},
		{in: "30", err: true},
		{in: "Off", err: true},
		{in: "", err: true},
		{in: "forever", err: true},
		{in: "+30m", err: true}, // Go durations, but not the schema's form
		{in: ".5h", err: true},
		{in: "1.h", err: true},
	} {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := api.ParseHibernateAfter(tt.in)
			if tt.err {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
			}
			// The schema's pattern is looser (it cannot see 0 or a sign)
			// but accepts everything the parser does.
			if !tt.err {
				assert.True(t, schema.MatchString(tt.in), "schema pattern refuses %q", tt.in)
			}
		})
	}
}

func TestHibernationRecordRoundTrip(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("x", 3600))
	h := api.Hibernation{State: api.HibernationHibernated, Replicas: 3, Since: since, Cause: api.CauseIdle,
		Reason: "no MCP traffic for 30m0s", By: "mcp-gateway-abc", Overrides: 1}
	got, err := api.ParseHibernation(api.EncodeHibernation(h))
	require.NoError(t, err)
	assert.True(t, since.Truncate(time.Millisecond).Equal(got.Since), "since kept to the millisecond")
	got.Since = h.Since
	assert.Equal(t, h, got)
}

func TestParseHibernationRefuses(t *testing.T) {
	t.Parallel()
	for name, v := range map[string]string{
		"not JSON":           "hibernated",
		"unknown state":      `{"state":"sleeping","replicas":1,"since":"2026-01-01T00:00:00Z"}`,
		"no replicas":        `{"state":"hibernated","since":"2026-01-01T00:00:00Z"}`,
		"no since":           `{"state":"waking","replicas":1}`,
		"negative overrides": `{"state":"awake","since":"2026-01-01T00:00:00Z","overrides":-1}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := api.ParseHibernation(v)
			assert.Error(t, err)
		})
	}
	h, err := api.ParseHibernation(`{"state":"awake","since":"2026-01-01T00:00:00Z","overrides":1,"future":true}`)
	require.NoError(t, err, "unknown fields are a newer gateway's")
	assert.Equal(t, 1, h.Overrides)
}

func TestActivityLeaseName(t *testing.T) {
	t.Parallel()
	name := api.ActivityLeaseName("team-a", "github")
	assert.Equal(t, "mcp-activity.team-a.github", name)
	ns, server, ok := api.ParseActivityLeaseName(name)
	assert.True(t, ok)
	assert.Equal(t, []string{"team-a", "github"}, []string{ns, server})
	for _, bad := range []string{"mcp-gateway-hibernator", "mcp-activity.", "mcp-activity.ns", "mcp-activity.ns.", "mcp-activity..s", "mcp-activity.a.b.c"} {
		_, _, ok := api.ParseActivityLeaseName(bad)
		assert.False(t, ok, bad)
	}
}
