package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/gateway/admin"
)

// now is the clock of the ages printed (tests set it).
var now = time.Now

// runHibernation is `mcpctl wake|hibernate NAME`.
func runHibernation(cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var a apiFlags
	a.register(fs, false)
	name, c, err := a.prepare(fs, args, false)
	if err != nil {
		return usageError(stderr, cmd, err)
	}
	ctx, cancel := signalContext()
	defer cancel()
	op := c.Wake
	if cmd == "hibernate" {
		op = c.Hibernate
	}
	res, err := op(ctx, a.namespace, name)
	if err != nil {
		return fail(stderr, cmd, err)
	}
	fmt.Fprintf(stdout, "deployment %s/%s: %s\n", a.namespace, res.Deployment, describe(res.Hibernation))
	return 0
}

// column is the HIBERNATION column of `mcpctl status`: "-" when off,
// "after 30m" while awake, else the state and for how long.
func column(h *admin.HibernationStatus) string {
	switch {
	case h == nil:
		return "-"
	case h.State == "Awake":
		return "after " + h.After
	case h.Since == "":
		return h.State
	}
	return h.State + " " + ago(h.Since)
}

// describe is the hibernation line of `mcpctl status NAME`.
func describe(h *admin.HibernationStatus) string {
	if h == nil {
		return "off"
	}
	var b strings.Builder
	b.WriteString(h.State)
	if h.Since != "" {
		fmt.Fprintf(&b, " since %s (%s ago)", h.Since, ago(h.Since))
	}
	if h.Reason != "" {
		b.WriteString(": " + h.Reason)
	}
	if h.Replicas > 0 {
		fmt.Fprintf(&b, "; a wake restores %d", h.Replicas)
	}
	fmt.Fprintf(&b, "; hibernate-after %s", h.After)
	return b.String()
}

func ago(since string) string {
	t, err := time.Parse(time.RFC3339, since)
	if err != nil {
		return since
	}
	return now().Sub(t).Round(time.Second).String()
}
