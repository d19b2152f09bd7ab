package mcp

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeys(t *testing.T) {
	t.Parallel()
	keys, err := Keys([]byte(` {"a":1, "b":{"x":[1,{"y":2}]}, "a":"}", "p\u0061ramſ":null} `))
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "a", "paramſ"}, keys)
	keys, err = Keys([]byte(`{}`))
	require.NoError(t, err)
	assert.Empty(t, keys)
	_, err = Keys([]byte(`[1]`))
	assert.Error(t, err)
}
