package metrics

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
)

func TestMethod(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "none", "tools/call": "tools/call", "x/y": "other", "initialize": "initialize"} {
		assert.Equal(t, want, Method(in), in)
	}
}

func TestToolIsBounded(t *testing.T) {
	t.Parallel()
	m := New(prometheus.NewRegistry())
	assert.Equal(t, "", m.Tool("ns/s", ""))
	assert.Equal(t, "other", m.Tool(Unknown, "echo"))
	for i := range maxToolsPerServer {
		assert.Equal(t, fmt.Sprint("t", i), m.Tool("ns/s", fmt.Sprint("t", i)))
	}
	assert.Equal(t, "other", m.Tool("ns/s", "one-too-many"))
	assert.Equal(t, "t3", m.Tool("ns/s", "t3"), "known names keep their label")
	assert.Equal(t, "echo", m.Tool("ns/other", "echo"), "the cap is per server")
}
