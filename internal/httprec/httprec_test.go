package httprec

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecorder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		write func(w http.ResponseWriter)
		want  int
	}{
		{"nothing written", func(http.ResponseWriter) {}, http.StatusOK},
		{"a body only", func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")) }, http.StatusOK},
		{"a status", func(w http.ResponseWriter) { w.WriteHeader(http.StatusTeapot) }, http.StatusTeapot},
		{"the first status counts", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotFound)
			w.WriteHeader(http.StatusTeapot)
		}, http.StatusNotFound},
		{"a status after the body is not what was sent", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte("x"))
			w.WriteHeader(http.StatusTeapot)
		}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rr := httptest.NewRecorder()
			rec := New(rr)
			tt.write(rec)
			assert.Equal(t, tt.want, rec.Code)
			assert.Equal(t, tt.want, rr.Code)
		})
	}
}

func TestRecorderReachesFlush(t *testing.T) {
	t.Parallel()
	rr := httptest.NewRecorder()
	require.NoError(t, http.NewResponseController(New(rr)).Flush())
	assert.True(t, rr.Flushed)
}
