package stdio

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestProbeBackoff(t *testing.T) {
	t.Parallel()
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		assert.Equal(t, w, probeBackoff(i+1), "after %d failures", i+1)
	}
}
