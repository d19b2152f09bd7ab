package stdio

import (
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// metricValue sums the samples of name whose labels contain match.
func metricValue(t *testing.T, b *bridge, name, match string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	b.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name) || !strings.Contains(line, match) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}
