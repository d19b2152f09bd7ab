package virtual

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestTemplateMatcher(t *testing.T) {
	t.Parallel()
	c := newMemberCache(time.Minute)
	for _, tt := range []struct {
		template, uri string
		want          bool
	}{
		{"test://items/{id}", "test://items/5", true},
		{"test://items/{id}", "test://items/5/more", false},
		{"test://items/{id}/data", "test://items/5/data", true},
		{"file:///{+path}", "file:///a/b/c.txt", true},
		{"search{?q,lang}", "search?q=x&lang=en", true},
		{"search{?q,lang}", "search", true},
		{"test://a.b/{x}", "test://aXb/1", false},
		{"test://fixed", "test://fixed", true},
		{"test://{unclosed", "test://{unclosed", true},
	} {
		assert.Equal(t, tt.want, c.matcher(tt.template).MatchString(tt.uri), "%s ~ %s", tt.template, tt.uri)
	}
}

func TestOwnerPrefersListedURIs(t *testing.T) {
	t.Parallel()
	c := newMemberCache(time.Minute)
	a, b := &Member{Server: "a"}, &Member{Server: "b"}
	c.remember("ns", "a", "uriTemplate", []string{"test://{x}"})
	c.remember("ns", "b", "uri", []string{"test://exact"})
	m, _ := c.owner("ns", []*Member{a, b}, "test://exact")
	assert.Equal(t, b, m, "a listed URI beats an earlier member's template")
	m, _ = c.owner("ns", []*Member{a, b}, "test://other")
	assert.Equal(t, a, m)
	m, fresh := c.owner("ns", []*Member{a, b}, "nope://x")
	assert.Nil(t, m)
	assert.False(t, fresh, "a's resources and b's templates were never listed")
	c.remember("ns", "a", "uri", nil)
	c.remember("ns", "b", "uriTemplate", nil)
	m, fresh = c.owner("ns", []*Member{a, b}, "nope://x")
	assert.Nil(t, m)
	assert.True(t, fresh, "every list known: nobody has it")
	c.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	_, fresh = c.owner("ns", []*Member{a, b}, "nope://x")
	assert.False(t, fresh, "past the TTL")
}
