package httpguard

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestWrap(t *testing.T) {
	t.Parallel()
	var rejected []int
	h := Wrap(Config{
		Origins:      ParseOrigins("https://a.example, http://localhost:3000/"),
		MaxBodyBytes: 10,
		OnReject:     func(s int) { rejected = append(rejected, s) },
	}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	tests := []struct {
		name   string
		origin string
		ver    string
		body   string
		chunk  bool
		status int
	}{
		{"no origin", "", "", "{}", false, 200},
		{"allowed origin", "https://a.example", "", "{}", false, 200},
		{"allowed origin, other case and slash", "HTTP://LOCALHOST:3000", "", "{}", false, 200},
		{"foreign origin", "https://evil.example", "", "{}", false, 403},
		{"same host other port", "https://a.example:8443", "", "{}", false, 403},
		{"bad version", "", "2024-01-01", "{}", false, 400},
		{"good version", "", "2025-06-18", "{}", false, 200},
		{"too large, known length", "", "", strings.Repeat("x", 11), false, 413},
		{"too large, chunked", "", "", strings.Repeat("x", 11), true, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunk {
				body = io.MultiReader(body) // hides the length
			}
			req := httptest.NewRequest(http.MethodPost, "/mcp", body)
			if tt.chunk {
				req.ContentLength = -1
			}
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.ver != "" {
				req.Header.Set("MCP-Protocol-Version", tt.ver)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, tt.status, rec.Code)
		})
	}
	assert.Equal(t, []int{403, 403, 400, 413}, rejected)
	assert.True(t, ParseOrigins("*").Allowed(&http.Request{Header: http.Header{"Origin": {"https://x"}}}))
}

// In proxy mode the version is the upstream server's business: a revision
// this binary does not know yet passes, the other checks still apply.
func TestWrapPassVersions(t *testing.T) {
	t.Parallel()
	h := Wrap(Config{Origins: ParseOrigins(""), MaxBodyBytes: 10, PassVersions: true},
		http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	for _, tc := range []struct {
		origin, ver string
		status      int
	}{
		{"", "2099-01-01", http.StatusOK},
		{"https://evil.example", "2099-01-01", http.StatusForbidden},
	} {
		req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader("{}"))
		req.Header.Set("MCP-Protocol-Version", tc.ver)
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, tc.status, rec.Code, "%+v", tc)
	}
}
