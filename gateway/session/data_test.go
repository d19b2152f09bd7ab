package session

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSealData(t *testing.T) {
	t.Parallel()
	c, err := NewCodec([]byte(strings.Repeat("a", 32)))
	require.NoError(t, err)
	other, err := NewCodec([]byte(strings.Repeat("b", 32)), []byte(strings.Repeat("a", 32)))
	require.NoError(t, err)
	scope := Scope{Namespace: "ns", Server: "vs", Subject: "alice"}
	id := c.SealData("virtual-session", scope, []byte(`{"v":"2025-11-25"}`))
	got, err := c.OpenData("virtual-session", scope, id)
	require.NoError(t, err)
	assert.Equal(t, `{"v":"2025-11-25"}`, string(got))
	got, err = other.OpenData("virtual-session", scope, id)
	require.NoError(t, err, "an old key still verifies")
	assert.Equal(t, `{"v":"2025-11-25"}`, string(got))

	for name, try := range map[string]func() error{
		"other domain": func() error { _, err := c.OpenData("other", scope, id); return err },
		"other caller": func() error {
			_, err := c.OpenData("virtual-session", Scope{Namespace: "ns", Server: "vs", Subject: "bob"}, id)
			return err
		},
		"other server": func() error {
			_, err := c.OpenData("virtual-session", Scope{Namespace: "ns", Server: "x", Subject: "alice"}, id)
			return err
		},
		"tampered":      func() error { _, err := c.OpenData("virtual-session", scope, id[:len(id)-2]+"AA"); return err },
		"not canonical": func() error { _, err := c.OpenData("virtual-session", scope, id+"\n"); return err },
		"a session ref": func() error { _, err := c.Decode(scope, id); return err },
		"empty":         func() error { _, err := c.OpenData("virtual-session", scope, ""); return err },
	} {
		assert.ErrorIs(t, try(), ErrInvalid, name)
	}
	ref := c.Encode(scope, Ref{PodUID: "u", Upstream: "s"})
	_, err = c.OpenData("virtual-session", scope, ref)
	assert.ErrorIs(t, err, ErrInvalid, "a session ref is no data id")
}

func TestTag(t *testing.T) {
	t.Parallel()
	c, err := NewCodec([]byte(strings.Repeat("a", 32)))
	require.NoError(t, err)
	tag := c.Tag("answer", "sid", "vs.x.1")
	assert.True(t, c.CheckTag(tag, "answer", "sid", "vs.x.1"))
	assert.False(t, c.CheckTag(tag, "answer", "sid", "vs.x.2"))
	assert.False(t, c.CheckTag(tag, "answer", "sidvs.x.1", ""), "parts are length-prefixed")
	assert.False(t, c.CheckTag("not base64!", "answer", "sid", "vs.x.1"))
}
