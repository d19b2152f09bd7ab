package injector

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/archestra-ai/mcp-orchestrator/api"
)

// The contract table (documentation, JSON Schema) and the parsers must name
// the same annotations, in the same order.
func TestRegistryMatchesContract(t *testing.T) {
	t.Parallel()
	var parsers, contract []string
	for _, a := range registry {
		parsers = append(parsers, a.key)
	}
	for _, a := range api.Annotations {
		contract = append(contract, a.Key)
	}
	assert.Equal(t, contract, parsers)
}
