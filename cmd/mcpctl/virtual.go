package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"

	"github.com/archestra-ai/mcp-orchestrator/gateway/admin"
)

// printVirtualList adds the virtual servers of ns ("" for all) under the
// servers' table, when there are any. A gateway without virtual servers
// (404) has nothing to add.
func printVirtualList(ctx context.Context, w io.Writer, c *admin.Client, ns string) error {
	list, err := c.ListVirtual(ctx, ns)
	var apiErr *admin.APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
		return nil
	}
	if err != nil || len(list) == 0 {
		return err
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tVIRTUAL SERVER\tSTATE\tMEMBERS READY\tENDPOINT")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Namespace, s.Name, s.State, membersReady(s.Members), s.Endpoint)
	}
	return tw.Flush()
}

func membersReady(ms []admin.VirtualMemberStatus) string {
	if len(ms) == 0 {
		return "-"
	}
	ready := 0
	for _, m := range ms {
		if m.State == admin.MemberReady {
			ready++
		}
	}
	return fmt.Sprintf("%d/%d", ready, len(ms))
}

// isNotFound reports a 404 of the API (no such server).
func isNotFound(err error) bool {
	var apiErr *admin.APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound
}

func printVirtualStatus(w io.Writer, st *admin.VirtualServerStatus) {
	fmt.Fprintf(w, "Virtual server: %s/%s\n", st.Namespace, st.Name)
	fmt.Fprintf(w, "ConfigMap:      %s\n", strings.Join(st.ConfigMaps, ", "))
	fmt.Fprintf(w, "State:          %s\n", st.State)
	fmt.Fprintf(w, "Endpoint:       %s\n", st.Endpoint)
	if st.Title != "" {
		fmt.Fprintf(w, "Title:          %s\n", st.Title)
	}
	for _, p := range st.Problems {
		fmt.Fprintf(w, "Problem:        %s\n", p)
	}
	if len(st.Members) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tPREFIX\tSTATE\tREADY\tTOOLS\tPROMPTS\tRESOURCES\tLAST LEFT OUT")
	for _, m := range st.Members {
		left := "-"
		if m.LeftOut != nil {
			left = m.LeftOut.Reason + " " + m.LeftOut.At
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\n", m.Server, orDash(m.Prefix), m.State, m.ReadyPods, m.Pods,
			names(m.Tools), names(m.Prompts), names(m.Resources), left)
	}
	_ = tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// names shows an assignment: "all", "none", or the names.
func names(list []string) string {
	switch {
	case len(list) == 1 && list[0] == "*":
		return "all"
	case len(list) == 0:
		return "none"
	}
	return strings.Join(list, ",")
}
