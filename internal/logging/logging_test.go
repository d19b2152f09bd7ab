package logging

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNew(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, err := New(&buf, "warn")
	require.NoError(t, err)
	log.Info("dropped")
	log.Warn("kept", "k", "v")
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line), "one JSON line: %s", buf.String())
	assert.Equal(t, "kept", line["msg"])

	_, err = New(&buf, "loud")
	assert.ErrorContains(t, err, `log level "loud"`)
	log, err = New(&buf, "")
	require.NoError(t, err)
	assert.True(t, log.Enabled(nil, 0), "empty means info")
}
