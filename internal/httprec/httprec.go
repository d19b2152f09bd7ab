// Package httprec wraps an http.ResponseWriter to remember the status it
// answered with, for metrics and logs, while Flush and deadlines still
// reach the writer underneath.
package httprec

import "net/http"

// Recorder remembers the status written through it; Code is 200 until a
// WriteHeader says otherwise (as net/http answers).
type Recorder struct {
	http.ResponseWriter
	Code    int
	written bool
}

// New wraps w.
func New(w http.ResponseWriter) *Recorder {
	return &Recorder{ResponseWriter: w, Code: http.StatusOK}
}

// WriteHeader records the first status and passes it on.
func (r *Recorder) WriteHeader(code int) {
	if !r.written {
		r.Code, r.written = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *Recorder) Write(b []byte) (int, error) {
	r.written = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
