package webhook

import (
	"context"
	"encoding/json"
	"fmt"
)

// echo decodes the object generically and adds a label: enough to drive
// every path of the handlers from a fuzzer.
type echo struct{}

func (echo) Mutate(_ context.Context, r *Request) (*Mutation, error) {
	var obj map[string]any
	if err := json.Unmarshal(r.Object, &obj); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	decoded, _ := json.Marshal(obj)
	meta, _ := obj["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		obj["metadata"] = meta
	}
	meta["labels"] = map[string]any{"fuzzed": "yes"}
	mutated, _ := json.Marshal(obj)
	return &Mutation{Decoded: decoded, Mutated: mutated}, nil
}

func (echo) Validate(_ context.Context, r *Request) ([]string, error) {
	var obj map[string]any
	if err := json.Unmarshal(r.Object, &obj); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	return nil, nil
}
