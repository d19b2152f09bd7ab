// Package launcher runs MCP stdio server processes inside the server's own
// container on behalf of the sidecar.
//
// The launcher is the container's PID 1 (`mcp-transport launch --socket S --
// CMD ARGS...`). It listens on a unix socket in the pod-shared emptyDir; the
// sidecar connects once per process it wants. The protocol is deliberately
// tiny, one connection per process:
//
//  1. sidecar -> launcher: one JSON line {"label":"p7"}. The label only
//     prefixes the process's stderr lines in the container log.
//  2. launcher -> sidecar: one JSON line {"pid":1234}, sent with SCM_RIGHTS
//     ancillary data carrying two fds: [0] the write end of the child's
//     stdin pipe, [1] the read end of its stdout pipe. On failure the line
//     is {"error":"..."} and carries no fds.
//  3. launcher -> sidecar: when the child exits, one JSON line
//     {"exit":"exit status 3","code":3} (code -1 when killed by a signal),
//     then the launcher closes the connection.
//  4. sidecar -> launcher, optional, any time: {"session":"ab12cd34"}, the
//     (hashed, log-safe) label of the session the process now serves; later
//     stderr lines are prefixed "[p7 session=ab12cd34]". Warm-pool processes
//     start before their session exists, hence a separate message.
//  5. The sidecar closing its end at any time means "stop this process": the
//     launcher sends SIGTERM to the child's process group, then SIGKILL after
//     the grace period. So a sidecar crash or restart never leaks children.
//
// Passing the pipe fds (instead of relaying bytes over the socket) keeps the
// launcher out of the data path: the sidecar reads and writes the child's
// pipes directly, with no copy and no framing in between.
package launcher

import (
	"regexp"
)

// hello is the sidecar's first line.
type hello struct {
	Label string `json:"label"`
}

// started is the launcher's answer to hello.
type started struct {
	PID   int    `json:"pid,omitempty"`
	Error string `json:"error,omitempty"`
}

// assign names the session a process serves.
type assign struct {
	Session string `json:"session"`
}

// exited is sent when the child ends.
type exited struct {
	Exit string `json:"exit"`
	Code int    `json:"code"`
}

var labelRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// cleanLabel keeps log prefixes free of injected control characters.
func cleanLabel(s string) string {
	if labelRE.MatchString(s) {
		return s
	}
	return "unlabeled"
}
