package virtual

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// maxPages bounds the pages read of one member's list.
const maxPages = 50

// Reasons a member is left out of a list.
const (
	reasonUnavailable = "unavailable" // no ready pod, unreachable, still waking
	reasonTimeout     = "timeout"     // slower than --virtual-list-timeout
	reasonError       = "error"       // an error answer, or not MCP
)

// outcome is one member's part of a list.
type outcome struct {
	m      *Member
	items  []json.RawMessage
	ttl    int64 // the smallest ttlMs of its pages; 0 when one had none
	public bool  // every page said cacheScope public
	reason string
	err    error
}

// fanOut asks every member want selects for all pages of a list (field:
// the result's array), concurrently, and returns what came within the
// list timeout, in definition order. Members that did not answer in time
// (or could not) are left out, reported with reason and err.
func (v *Virtual) fanOut(c *call, method, field string, want func(*Member) bool) []outcome {
	ctx, cancel := context.WithTimeout(c.q.r.Context(), v.opts.ListTimeout)
	defer cancel()
	s := c.q.s
	type done struct {
		i int
		o outcome
	}
	results := make(chan done, len(s.Members))
	out := make([]outcome, len(s.Members))
	asked := 0
	for i, m := range s.Members {
		out[i] = outcome{m: m, reason: "skipped"}
		if !want(m) {
			continue
		}
		asked++
		go func() { results <- done{i, v.fetchList(ctx, c, m, method, field)} }()
	}
	for got := 0; got < asked; got++ {
		select {
		case d := <-results:
			out[d.i] = d.o
		case <-ctx.Done():
			for i := range out {
				if out[i].reason == "skipped" && want(out[i].m) {
					out[i] = outcome{m: out[i].m, reason: reasonTimeout, err: fmt.Errorf("no answer within %s", v.opts.ListTimeout)}
				}
			}
			got = asked
		}
	}
	v.reportLeftOut(c, method, out)
	return out
}

// reportLeftOut logs and counts the members left out of a list.
func (v *Virtual) reportLeftOut(c *call, method string, out []outcome) {
	for _, o := range out {
		if o.err == nil {
			continue
		}
		v.metrics.leftOut(c.q.s, o.m, o.reason)
		v.absences.note(c.q.s, o.m, o.reason, o.err)
		v.opts.Log.Warn("virtual server member left out", "virtual", c.q.s.Key(), "member", o.m.Server,
			"method", method, "reason", o.reason, "error", o.err.Error())
	}
}

// fetchList reads every page of one member's list.
func (v *Virtual) fetchList(ctx context.Context, c *call, m *Member, method, field string) outcome {
	o := outcome{m: m, ttl: -1, public: true}
	cursor := []byte(nil)
	for range maxPages {
		params := []byte(`{"_meta":` + string(c.metaJSON()) + `}`)
		if cursor != nil {
			params, _ = mcp.Set(params, cursor, "cursor")
		}
		answer, status, err := v.memberCall(ctx, c, m, method, params)
		if err != nil {
			return failed(m, status, ctx, err)
		}
		res := mcp.Lookup(answer.Raw, "result")
		if answer.IsError {
			if errorCode(answer) == mcp.CodeMethodNotFound {
				break // the member offers none: an empty part
			}
			return failed(m, status, ctx, fmt.Errorf("answered %s", mcp.Lookup(answer.Raw, "error")))
		}
		var items []json.RawMessage
		if json.Unmarshal(mcp.Lookup(res, field), &items) != nil {
			return failed(m, status, ctx, fmt.Errorf("its result has no %s array", field))
		}
		o.items = append(o.items, items...)
		o.hints(res)
		if cursor = mcp.Lookup(res, "nextCursor"); len(cursor) == 0 || string(cursor) == "null" {
			break
		}
	}
	if o.ttl < 0 {
		o.ttl = 0
	}
	return o
}

func failed(m *Member, status int, ctx context.Context, err error) outcome {
	reason := reasonError
	switch {
	case ctx.Err() != nil:
		reason, err = reasonTimeout, errors.New("no answer within the list timeout")
	case status == http.StatusServiceUnavailable:
		reason = reasonUnavailable
	}
	return outcome{m: m, reason: reason, err: err}
}

// hints folds one page's caching hints into the outcome.
func (o *outcome) hints(res []byte) {
	var h struct {
		TTL   *int64 `json:"ttlMs"`
		Scope string `json:"cacheScope"`
	}
	_ = json.Unmarshal(res, &h)
	ttl := int64(0)
	if h.TTL != nil && *h.TTL > 0 {
		ttl = *h.TTL
	}
	if o.ttl < 0 || ttl < o.ttl {
		o.ttl = ttl
	}
	o.public = o.public && h.Scope == "public"
}

func errorCode(m *mcp.Message) int {
	var e struct {
		Code int `json:"code"`
	}
	_ = json.Unmarshal(mcp.Lookup(m.Raw, "error"), &e)
	return e.Code
}

// mergeHints are the caching hints of a merged list: the shortest TTL of
// the parts, public only if every part is.
func mergeHints(parts []outcome) (int64, string) {
	ttl, public, any := int64(0), true, false
	for _, o := range parts {
		if o.err != nil || o.reason == "skipped" {
			continue
		}
		if !any || o.ttl < ttl {
			ttl = o.ttl
		}
		any = true
		public = public && o.public
	}
	if !public || !any {
		return ttl, "private"
	}
	return ttl, "public"
}
