package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sync"

	"github.com/archestra-ai/mcp-orchestrator/internal/mcp"
)

// relay is the floor of a bridge: one stdio process behind the endpoint,
// one exchange at a time, each request's bytes written to its stdin as a
// line and the next response line read back, untouched (no id rewriting,
// no sessions, no streams: valid for one client that waits for each
// answer). What any sidecar on net/http and pipes costs a call.
type relay struct {
	mu  sync.Mutex
	in  *bufio.Writer
	out *bufio.Reader
}

func startRelay(command string) (*relay, error) {
	cmd := exec.Command(command)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", command, err)
	}
	return &relay{in: bufio.NewWriterSize(in, 64<<10), out: bufio.NewReaderSize(out, 64<<10)}, nil
}

// exchange writes body; for a request it returns the next response line
// from the process (what else it writes is dropped), for anything else nil.
func (r *relay) exchange(body []byte, m *mcp.Message) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = r.in.Write(body)
	_ = r.in.WriteByte('\n')
	if err := r.in.Flush(); err != nil {
		return nil, err
	}
	if m.Kind != mcp.KindRequest {
		return nil, nil
	}
	for {
		line, err := r.out.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		if got, err := mcp.DecodeOne(line); err == nil && got.Kind == mcp.KindResponse {
			return append([]byte(nil), line...), nil
		}
	}
}

// serve relays a POST's message.
func (r *relay) serve(w http.ResponseWriter, body []byte, m *mcp.Message) {
	resp, err := r.exchange(body, m)
	switch {
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadGateway)
	case resp == nil:
		w.WriteHeader(http.StatusAccepted)
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(resp)
	}
}
