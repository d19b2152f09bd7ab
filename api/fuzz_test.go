package api_test

import (
	"net"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// FuzzParsePodEndpoint feeds any pod-template annotations to the gateway's
// reader. It never panics; a refusal names the annotation; an accepted
// endpoint is one the gateway can dial (a port, an absolute path that stays
// the path of the URL it builds) and re-encodes to annotations that parse
// to the same endpoint.
func FuzzParsePodEndpoint(f *testing.F) {
	for _, s := range [][6]string{
		{"8080", "/mcp", "stdio", "per-session", "read,write", "mtls"},
		{"", "", "streamable-http", "", "", ""},
		{" 9000 ", " /api/mcp ", "stdio", "shared", " a , ,b ", ""},
		{"0", "mcp", "", "", ",", "spiffe"},
		{"65536", "/", "x", "y", "\x00", "none"},
		{"+80", "//host/x?y#z", "stdio", "", "tools/call", "mtls"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], uint8(0x3f))
	}
	f.Fuzz(func(t *testing.T, port, path, transport, sessions, tools, callerAuth string, present uint8) {
		ann := map[string]string{}
		for i, kv := range []struct{ key, v string }{
			{api.PodAnnEndpointPort, port}, {api.PodAnnEndpointPath, path}, {api.PodAnnTransport, transport},
			{api.PodAnnSessions, sessions}, {api.PodAnnAllowedTools, tools}, {api.PodAnnCallerAuth, callerAuth},
		} {
			if present&(1<<i) != 0 {
				ann[kv.key] = kv.v
			}
		}
		e, err := api.ParsePodEndpoint(ann)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "annotation "+api.Prefix) {
				t.Fatalf("the error does not name its annotation: %v", err)
			}
			return
		}
		if e.Port < 1 || e.Port > 65535 || !strings.HasPrefix(e.Path, "/") || e.Transport == "" {
			t.Fatalf("accepted an endpoint the gateway cannot dial: %+v", e)
		}
		if e.Transport == api.TransportStdio && e.Sessions == "" {
			t.Fatalf("a stdio endpoint without a session mode: %+v", e)
		}
		for _, tool := range e.AllowedTools {
			if tool == "" || tool != strings.TrimSpace(tool) || strings.Contains(tool, ",") {
				t.Fatalf("allowed tool %q cannot be re-encoded", tool)
			}
		}
		// The URL discovery builds: the annotations cannot move the host.
		host := net.JoinHostPort("10.0.0.1", strconv.Itoa(e.Port))
		u, err := url.Parse((&url.URL{Scheme: e.Scheme(), Host: host, Path: e.Path}).String())
		if err != nil || u.Host != host || u.Path != e.Path {
			t.Fatalf("path %q makes the URL %v (%v)", e.Path, u, err)
		}
		again, err := api.ParsePodEndpoint(api.EncodePodEndpoint(e))
		if err != nil {
			t.Fatalf("re-encoded %+v does not parse: %v", e, err)
		}
		if !reflect.DeepEqual(e, again) {
			t.Fatalf("re-encoding changed the endpoint: %+v, then %+v", e, again)
		}
	})
}

// FuzzParseCaller feeds any header values to the sidecar's reader of the
// caller the gateway states. It never panics; a refusal names the header;
// an accepted caller re-encodes to values that parse to the same caller,
// and any caller encodes to values that parse back to it.
func FuzzParseCaller(f *testing.F) {
	f.Add("system:serviceaccount:ns:agent", "system:serviceaccounts,system:authenticated")
	f.Add("oidc:alice@example.com", "oidc:engineering,oidc:on%2Ccall")
	f.Add("J%C3%BCrgen%20M", "a%")
	f.Add("%zz", "")
	f.Add("", "a,,b")
	f.Add("x", ",")
	f.Fuzz(func(t *testing.T, user, groups string) {
		// Any caller survives the hop.
		in := api.Caller{User: user, Groups: strings.Split(groups, ",")}
		eu, eg := api.EncodeCaller(in)
		for _, h := range []string{eu, eg} {
			for i := 0; i < len(h); i++ {
				if h[i] <= ' ' || h[i] >= 0x7f {
					t.Fatalf("encoded header %q is not visible ASCII", h)
				}
			}
		}
		back, err := api.ParseCaller(eu, eg)
		if err != nil {
			t.Fatalf("encoded %q %q does not parse: %v", eu, eg, err)
		}
		if back.User != in.User || !reflect.DeepEqual(back.Groups, nonEmpty(in.Groups)) {
			t.Fatalf("%+v came back as %+v", in, back)
		}

		// Any header values: a clear error, or a caller that re-encodes.
		c, err := api.ParseCaller(user, groups)
		if err != nil {
			if !strings.Contains(err.Error(), "header "+api.HeaderCallerUser) && !strings.Contains(err.Error(), "header "+api.HeaderCallerGroups) {
				t.Fatalf("the error does not name its header: %v", err)
			}
			return
		}
		again, err := api.ParseCaller(api.EncodeCaller(c))
		if err != nil || !reflect.DeepEqual(c, again) {
			t.Fatalf("%q %q parsed as %+v, re-encoded as %+v (%v)", user, groups, c, again, err)
		}
	})
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// FuzzParseHibernation feeds any annotation value to the reader of the
// gateway's hibernation record. It never panics; an accepted record is
// consistent (a state that restores replicas has some) and its encoding is
// a fixed point: it parses, and encodes again to the same bytes.
func FuzzParseHibernation(f *testing.F) {
	f.Add(api.EncodeHibernation(api.Hibernation{State: api.HibernationHibernated, Replicas: 2, Since: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), Cause: api.CauseIdle, By: "gw-0"}))
	f.Add(`{"state":"awake","since":"2026-01-02T03:04:05.123456789+02:00","overrides":1}`)
	f.Add(`{"state":"waking","replicas":0,"since":"2026-01-02T03:04:05Z"}`)
	f.Add(`{"state":"unmanaged","since":"9999-12-31T23:59:59-23:59"}`)
	f.Add(`{"state":"hibernated","replicas":2147483648,"since":"2026-01-02T03:04:05Z"}`)
	f.Add(`not json`)
	f.Fuzz(func(t *testing.T, v string) {
		h, err := api.ParseHibernation(v)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			return
		}
		if h.Since.IsZero() || h.Replicas < 0 || h.Overrides < 0 ||
			(h.State != api.HibernationAwake && h.State != api.HibernationUnmanaged && h.Replicas < 1) {
			t.Fatalf("accepted an inconsistent record: %+v", h)
		}
		enc := api.EncodeHibernation(h)
		again, err := api.ParseHibernation(enc)
		if err != nil {
			t.Fatalf("record %+v encodes to %q, which does not parse: %v", h, enc, err)
		}
		if api.EncodeHibernation(again) != enc {
			t.Fatalf("encoding is not a fixed point: %q, then %q", enc, api.EncodeHibernation(again))
		}
		if again.State != h.State || again.Replicas != h.Replicas || again.Overrides != h.Overrides || !again.Since.Equal(h.Since.Truncate(time.Millisecond)) {
			t.Fatalf("re-encoding changed the record: %+v, then %+v", h, again)
		}
	})
}
