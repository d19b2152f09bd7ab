package launcher

import (
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

// Once shutdown has taken its list of children, no child may start: it
// would never be signalled, and the launcher would wait for it forever.
func TestNoChildStartsAfterShutdown(t *testing.T) {
	t.Parallel()
	s := &Server{Command: []string{"sleep", "60"}, Stderr: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), KillGrace: 1}
	s.children = map[int]*child{}
	s.shutdown()
	_, _, _, err := s.spawn("late")
	require.ErrorContains(t, err, "shutting down")
	require.Empty(t, s.children)
}
