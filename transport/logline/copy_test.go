package logline

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCopy(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 3*MaxLine+10)
	tests := []struct {
		name, in string
		want     []string
	}{
		{"lines", "a\nb\n", []string{"[p] a", "[p] b"}},
		{"no final newline", "a\nb", []string{"[p] a", "[p] b"}},
		{"empty line", "a\n\nb\n", []string{"[p] a", "[p] ", "[p] b"}},
		{"overlong line is split, not dropped", long + "\nafter\n", []string{
			"[p] " + long[:MaxLine], "[p] " + long[MaxLine:2*MaxLine], "[p] " + long[2*MaxLine:3*MaxLine], "[p] " + long[3*MaxLine:], "[p] after"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			Copy(&out, strings.NewReader(tt.in), func() string { return "[p] " }, nil)
			assert.Equal(t, strings.Join(tt.want, "\n")+"\n", out.String())
		})
	}
}

// A child writing far more than a line's worth is read to the end: it is
// never left blocked on a full pipe.
func TestCopyReadsEverything(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	go func() {
		_, _ = pw.Write([]byte(strings.Repeat("y", 5<<20) + "\nlast\n"))
		pw.Close()
	}()
	var out bytes.Buffer
	Copy(&out, pr, func() string { return "" }, nil)
	assert.True(t, strings.HasSuffix(out.String(), "\nlast\n"))
}
