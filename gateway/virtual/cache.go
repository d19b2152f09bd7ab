package virtual

import (
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"time"
)

// maxOwned bounds the URIs a replica remembers per member.
const maxOwned = 10000

// memberCache is what a replica remembers of members, with no shared
// store: each member's discovery (its capabilities) and which resource
// URIs and templates it lists, which is how a resources/read finds its
// member. Entries older than the TTL are refreshed when needed; a stale
// entry is still used when the refresh fails (a member down keeps its
// last known capabilities).
type memberCache struct {
	ttl time.Duration
	now func() time.Time

	mu        sync.Mutex
	discover  map[string]discovered // "ns/member"
	eras      map[string]era        // "ns/member"
	owned     map[string]*owned     // "ns/member"
	templates map[string]*regexp.Regexp
}

type discovered struct {
	result json.RawMessage // the member's DiscoverResult
	at     time.Time
}

// era is whether a member speaks only the session revisions.
type era struct {
	legacy bool
	at     time.Time
}

type owned struct {
	uris        map[string]bool
	urisAt      time.Time
	templates   []string
	templatesAt time.Time
}

func newMemberCache(ttl time.Duration) *memberCache {
	return &memberCache{ttl: ttl, now: time.Now, discover: map[string]discovered{}, eras: map[string]era{}, owned: map[string]*owned{},
		templates: map[string]*regexp.Regexp{}}
}

func (c *memberCache) fresh(at time.Time) bool { return !at.IsZero() && c.now().Sub(at) < c.ttl }

// discovered returns the member's last DiscoverResult and whether it is
// fresh.
func (c *memberCache) discovered(ns, member string) (json.RawMessage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.discover[ns+"/"+member]
	return d.result, ok && c.fresh(d.at)
}

func (c *memberCache) setDiscovered(ns, member string, result json.RawMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.discover[ns+"/"+member] = discovered{result: result, at: c.now()}
}

// era returns whether the member speaks only the session revisions, and
// whether that is known (fresh).
func (c *memberCache) era(ns, member string) (legacy, known bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.eras[ns+"/"+member]
	return e.legacy, ok && c.fresh(e.at)
}

func (c *memberCache) setEra(ns, member string, legacy bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.eras[ns+"/"+member] = era{legacy: legacy, at: c.now()}
}

// remember records the URIs (key "uri") or templates ("uriTemplate") a
// member listed.
func (c *memberCache) remember(ns, member, key string, list []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.owned[ns+"/"+member]
	if o == nil {
		o = &owned{}
		c.owned[ns+"/"+member] = o
	}
	if len(list) > maxOwned {
		list = list[:maxOwned]
	}
	if key == "uri" {
		o.uris, o.urisAt = make(map[string]bool, len(list)), c.now()
		for _, u := range list {
			o.uris[u] = true
		}
		return
	}
	o.templates, o.templatesAt = list, c.now()
}

// owner returns the first member (in definition order) that listed uri,
// else the first whose template matches it. On a miss, fresh reports
// whether every member's lists are fresh (so no member lists it).
func (c *memberCache) owner(ns string, members []*Member, uri string) (*Member, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fresh := true
	for _, m := range members {
		o := c.owned[ns+"/"+m.Server]
		if o == nil {
			fresh = false
			continue
		}
		fresh = fresh && c.fresh(o.urisAt) && c.fresh(o.templatesAt)
		if o.uris[uri] {
			return m, true
		}
	}
	for _, m := range members {
		if o := c.owned[ns+"/"+m.Server]; o != nil {
			for _, t := range o.templates {
				if c.matcher(t).MatchString(uri) {
					return m, true
				}
			}
		}
	}
	return nil, fresh
}

// templateOwner returns the first member that lists the template t.
func (c *memberCache) templateOwner(ns string, members []*Member, t string) *Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range members {
		if o := c.owned[ns+"/"+m.Server]; o != nil {
			for _, x := range o.templates {
				if x == t {
					return m
				}
			}
		}
	}
	return nil
}

// matcher compiles an RFC 6570 URI template into a regular expression
// matching the URIs it expands to (held under c.mu).
func (c *memberCache) matcher(t string) *regexp.Regexp {
	if re := c.templates[t]; re != nil {
		return re
	}
	var b strings.Builder
	b.WriteString("^")
	rest := t
	for {
		open := strings.IndexByte(rest, '{')
		end := strings.IndexByte(rest, '}')
		if open < 0 || end < open {
			b.WriteString(regexp.QuoteMeta(rest))
			break
		}
		b.WriteString(regexp.QuoteMeta(rest[:open]))
		b.WriteString(expression(rest[open+1 : end]))
		rest = rest[end+1:]
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		re = regexp.MustCompile(`^$`)
	}
	if len(c.templates) > maxOwned {
		clear(c.templates)
	}
	c.templates[t] = re
	return re
}

// expression is the pattern of one template expression by its operator.
func expression(e string) string {
	if e == "" {
		return ""
	}
	switch e[0] {
	case '+', '#':
		return `.*`
	case '/':
		return `(/[^?#]*)?`
	case '?', '&':
		return `([?&][^#]*)?`
	case '.':
		return `(\.[^/?#]*)?`
	case ';':
		return `(;[^/?#]*)?`
	}
	return `[^/?#]*`
}
