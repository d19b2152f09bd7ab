package stdio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// The era of a stdio server is a property of the server, not of one
// request (versioning.mdx): the readiness prober learns it from a fresh
// process with the spec's stdio probe (server/discover before anything
// else) and the manager keeps the answer for every later process. A modern
// server is passed through; a legacy one is initialized by the sidecar and
// translated for modern clients.

// eraProbeID and initProbeID are the ids of the sidecar's own requests on a
// probe process; no client ever sees that process.
const (
	eraProbeID  = `"mcp-transport-era-probe"`
	initProbeID = `"readiness-probe"`
)

// eraProbe is server/discover as a modern client sends it.
var eraProbe = discoverRequest(eraProbeID)

// discoverRequest is server/discover with the id, as a modern client sends it.
func discoverRequest(id string) []byte {
	return []byte(`{"jsonrpc":"2.0","id":` + id + `,"method":"server/discover","params":{"_meta":{"` +
		api.MetaProtocolVersion + `":"` + api.MCPVersion20260728 + `","` + api.MetaClientCapabilities + `":{},"` +
		api.MetaClientInfo + `":{"name":"mcp-transport","version":"1"}}}}`)
}

// probeRequest is the legacy readiness handshake. The sidecar is the
// client here, so it knows exactly what it sends.
var probeRequest = []byte(`{"jsonrpc":"2.0","id":` + initProbeID + `,"method":"initialize","params":{"protocolVersion":"` +
	mcp.LatestVersion + `","capabilities":{},"clientInfo":{"name":"mcp-transport-readiness","version":"1"}}}`)

// Values of Config.Era.
const (
	EraLegacy = "legacy"
	EraModern = "modern"
)

// eraInfo is what the manager knows about its server.
type eraInfo struct {
	modern bool
	// discover is a modern server's own DiscoverResult (the "result" value).
	discover json.RawMessage
	// legacyInit is a legacy server's initialize result, from the probe:
	// what server/discover is answered from for modern clients.
	legacyInit json.RawMessage
}

// eraState is learned once and refreshed by every probe.
type eraState struct {
	mu    sync.Mutex
	info  *eraInfo
	known chan struct{} // closed once info is set
}

func newEraState() *eraState { return &eraState{known: make(chan struct{})} }

func (e *eraState) set(info *eraInfo) {
	e.mu.Lock()
	defer e.mu.Unlock()
	first := e.info == nil
	e.info = info
	if first {
		close(e.known)
	}
}

// peek is the era if known, else nil.
func (e *eraState) peek() *eraInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.info
}

// get waits until the era is known, or ctx ends.
func (e *eraState) get(ctx context.Context) (*eraInfo, error) {
	select {
	case <-e.known:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the MCP server to start: %w", ctx.Err())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.info, nil
}

// probeEra sends the stdio probe on a fresh process and, for a legacy
// server, the initialize handshake: any answer to the probe that is not a
// DiscoverResult naming a modern version, or no answer within the probe
// timeout, means legacy (the fallback must not depend on one error code).
func (m *Manager) probeEra(ctx context.Context, c *conn) (*eraInfo, error) {
	answers := make(chan *mcp.Message, 4)
	ended := make(chan string, 1)
	go c.readLoop(func(msg *mcp.Message) {
		if msg.Kind == mcp.KindResponse {
			answers <- msg
		}
	}, func(status string) { ended <- status })
	await := func(id string, timeout time.Duration) (*mcp.Message, error) {
		t := time.NewTimer(timeout)
		defer t.Stop()
		for {
			select {
			case a := <-answers:
				if a.Key() == id {
					return a, nil
				}
			case st := <-ended:
				return nil, fmt.Errorf("process ended during the handshake: %s", st)
			case <-t.C:
				return nil, nil
			case <-ctx.Done():
				return nil, fmt.Errorf("no answer: %w", ctx.Err())
			}
		}
	}
	if m.cfg.Era != EraLegacy {
		if err := c.write(eraProbe); err != nil {
			return nil, err
		}
		timeout := m.cfg.EraProbeTimeout
		if m.cfg.Era == EraModern {
			timeout = m.cfg.StartTimeout
		}
		a, err := await(eraProbeID, timeout)
		if err != nil {
			return nil, err
		}
		if res := discoverResult(a); res != nil {
			return &eraInfo{modern: true, discover: res}, nil
		}
		if m.cfg.Era == EraModern {
			return nil, errors.New("the server did not answer server/discover (--stdio-era=modern)")
		}
	}
	if err := c.write(probeRequest); err != nil {
		return nil, err
	}
	a, err := await(initProbeID, m.cfg.StartTimeout)
	switch {
	case err != nil:
		return nil, err
	case a == nil:
		return nil, errors.New("no initialize answer")
	case a.IsError:
		return nil, errors.New("server answered initialize with an error")
	}
	return &eraInfo{legacyInit: mcp.Lookup(a.Raw, "result")}, nil
}

// discoverResult returns the result of a DiscoverResult answer that names
// a modern version, nil for anything else.
func discoverResult(a *mcp.Message) json.RawMessage {
	if a == nil || a.IsError {
		return nil
	}
	res := mcp.Lookup(a.Raw, "result")
	var versions []string
	if json.Unmarshal(mcp.Lookup(res, "supportedVersions"), &versions) != nil {
		return nil
	}
	if !slices.ContainsFunc(versions, mcp.IsModernVersion) {
		return nil
	}
	return res
}
