package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// inputKeyMeta is the params._meta key naming a server-to-client request for
// a bridge that turns it into an InputRequiredResult: the value becomes the
// request's key in inputRequests (and the client's answer comes back under
// it in inputResponses). Plain legacy clients ignore it.
const inputKeyMeta = "io.archestra.mcp/inputKey"

func keyMeta(key string) mcp.Meta { return mcp.Meta{inputKeyMeta: key} }

// capability names a client capability the input requests need.
type capability string

const (
	capElicitation capability = "elicitation"
	capSampling    capability = "sampling"
	capRoots       capability = "roots"
)

// declared reports whether the client declared c at initialize.
func declared(ss *mcp.ServerSession, c capability) bool {
	ip := ss.InitializeParams()
	if ip == nil || ip.Capabilities == nil {
		return false
	}
	switch c {
	case capElicitation:
		return ip.Capabilities.Elicitation != nil
	case capSampling:
		return ip.Capabilities.Sampling != nil
	case capRoots:
		return ip.Capabilities.RootsV2 != nil
	}
	return false
}

// requireCaps is a tool error naming the first capability in cs the client
// did not declare, the legacy way to refuse (2025-11-25 scenarios: "If the
// client doesn't support sampling, return an error").
func requireCaps(ss *mcp.ServerSession, cs ...capability) error {
	for _, c := range cs {
		if !declared(ss, c) {
			return fmt.Errorf("this tool needs the client capability %q, which the client did not declare", c)
		}
	}
	return nil
}

// badInput turns the failure of a server-to-client request into the call's
// error. The client's own JSON-RPC error goes back as it is; an answer that
// does not have the result's shape is the caller's invalid input (-32602),
// a JSON-RPC error rather than a tool error because a client that sent
// garbage must not read it as a completed call.
func badInput(key string, err error) error {
	var wire *jsonrpc.Error
	switch {
	case errors.As(err, &wire):
		return wire
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams,
		Message: fmt.Sprintf("invalid answer to the input request %q: %v", key, err)}
}

func invalid(key, format string, args ...any) error {
	return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams,
		Message: fmt.Sprintf("invalid answer to the input request %q: %s", key, fmt.Sprintf(format, args...))}
}

// elicitation asks for one required field of type typ ("string" or "boolean").
type elicitation struct{ key, message, field, typ string }

func (e elicitation) params() *mcp.ElicitParams {
	return &mcp.ElicitParams{
		Meta:    keyMeta(e.key),
		Message: e.message,
		RequestedSchema: map[string]any{
			"type":       "object",
			"properties": map[string]any{e.field: map[string]any{"type": e.typ}},
			"required":   []string{e.field},
		},
	}
}

// ask sends the elicitation and returns the accepted field's value. A
// declined or cancelled elicitation is a tool error: the client answered.
func (e elicitation) ask(ctx context.Context, ss *mcp.ServerSession) (any, error) {
	res, err := ss.Elicit(ctx, e.params())
	if err != nil {
		return nil, badInput(e.key, err)
	}
	if res.Action != "accept" {
		return nil, fmt.Errorf("the user did not answer %q (action %q)", e.message, res.Action)
	}
	v, ok := res.Content[e.field]
	switch {
	case !ok:
		return nil, invalid(e.key, "content has no %q", e.field)
	case e.typ == "string" && !isString(v), e.typ == "boolean" && !isBool(v):
		return nil, invalid(e.key, "content.%s is %T, not a %s", e.field, v, e.typ)
	}
	return v, nil
}

func isString(v any) bool { _, ok := v.(string); return ok }
func isBool(v any) bool   { _, ok := v.(bool); return ok }

// sampling asks the client's LLM for a text completion of prompt.
type sampling struct {
	key, prompt string
	maxTokens   int64
}

func (q sampling) ask(ctx context.Context, ss *mcp.ServerSession) (string, error) {
	res, err := ss.CreateMessage(ctx, &mcp.CreateMessageParams{
		Meta:      keyMeta(q.key),
		Messages:  []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: q.prompt}}},
		MaxTokens: q.maxTokens,
	})
	if err != nil {
		return "", badInput(q.key, err)
	}
	tc, ok := res.Content.(*mcp.TextContent)
	if !ok {
		return "", invalid(q.key, "content is %T, not text", res.Content)
	}
	return tc.Text, nil
}

// askRoots sends roots/list under key.
func askRoots(ctx context.Context, ss *mcp.ServerSession, key string) ([]*mcp.Root, error) {
	res, err := ss.ListRoots(ctx, &mcp.ListRootsParams{Meta: keyMeta(key)})
	if err != nil {
		return nil, badInput(key, err)
	}
	if res.Roots == nil {
		return nil, invalid(key, "no roots array")
	}
	return res.Roots, nil
}

// concurrently runs every ask at once and returns the first error: all of
// a call's requests are outstanding together, which is what lets a bridge
// gather them into one InputRequiredResult.
func concurrently(ctx context.Context, asks ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, ask := range asks {
		wg.Go(func() {
			if err := ask(ctx); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	wg.Wait()
	return first
}
