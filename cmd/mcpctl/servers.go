package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/archestra-ai/mcp-orchestrator/gateway/admin"
)

// Environment variables for the gateway connection, so that tokens stay
// out of shell history and process listings.
const (
	envGateway   = "MCP_GATEWAY"
	envToken     = "MCP_GATEWAY_TOKEN"
	envTokenFile = "MCP_GATEWAY_TOKEN_FILE"
)

// apiFlags are the flags every command that talks to the gateway takes.
type apiFlags struct {
	gateway, tokenFile, caFile, namespace, output string
	allNamespaces                                 bool
}

func (a *apiFlags) register(fs *flag.FlagSet, listing bool) {
	fs.StringVar(&a.gateway, "gateway", os.Getenv(envGateway), "gateway address, http(s)://host[:port] (env "+envGateway+")")
	fs.StringVar(&a.tokenFile, "token-file", os.Getenv(envTokenFile), "file holding the bearer token (env "+envTokenFile+"; or the token itself in "+envToken+")")
	fs.StringVar(&a.caFile, "ca-file", "", "PEM CA bundle to trust for an https gateway")
	fs.StringVar(&a.namespace, "n", "default", "namespace of the server")
	fs.StringVar(&a.namespace, "namespace", "default", "namespace of the server")
	if listing {
		fs.BoolVar(&a.allNamespaces, "A", false, "every namespace the gateway serves")
		fs.StringVar(&a.output, "o", "table", "output: table or json")
	}
}

func (a *apiFlags) client() (*admin.Client, error) {
	if a.gateway == "" {
		return nil, fmt.Errorf("no gateway address: set --gateway or %s", envGateway)
	}
	c := &admin.Client{BaseURL: a.gateway, Token: strings.TrimSpace(os.Getenv(envToken))}
	if a.tokenFile != "" {
		b, err := os.ReadFile(a.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("reading the token file: %w", err)
		}
		c.Token = strings.TrimSpace(string(b))
	}
	if a.caFile != "" {
		pem, err := os.ReadFile(a.caFile)
		if err != nil {
			return nil, fmt.Errorf("reading the CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate in it", a.caFile)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		c.HTTP = &http.Client{Transport: tr}
	}
	return c, nil
}

// parse parses args, which may mix flags and up to maxArgs positional
// arguments in any order, as kubectl users expect.
func parse(fs *flag.FlagSet, args []string, maxArgs int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) > maxArgs {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(pos[maxArgs:], " "))
	}
	return pos, nil
}

// prepare parses args (at most one positional argument, the server name;
// required unless optional) and makes the client. Its errors are usage
// errors.
func (a *apiFlags) prepare(fs *flag.FlagSet, args []string, optional bool) (string, *admin.Client, error) {
	pos, err := parse(fs, args, 1)
	if err != nil {
		return "", nil, err
	}
	if len(pos) == 0 && !optional {
		return "", nil, fmt.Errorf("the server name is required: mcpctl %s NAME", fs.Name())
	}
	c, err := a.client()
	if err != nil {
		return "", nil, err
	}
	if len(pos) == 0 {
		return "", c, nil
	}
	return pos[0], c, nil
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// fail prints an error of the API or the network: exit code 1 (usage
// errors are 2).
func fail(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "mcpctl %s: %v\n", cmd, err)
	return 1
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var a apiFlags
	a.register(fs, true)
	name, c, err := a.prepare(fs, args, true)
	if err == nil && a.output != "table" && a.output != "json" {
		err = fmt.Errorf("-o %q: want table or json", a.output)
	}
	if err != nil {
		return usageError(stderr, "status", err)
	}
	ctx, cancel := signalContext()
	defer cancel()
	if name == "" {
		ns := a.namespace
		if a.allNamespaces {
			ns = ""
		}
		list, err := c.List(ctx, ns)
		if err != nil {
			return fail(stderr, "status", err)
		}
		if a.output == "json" {
			return writeJSON(stdout, list)
		}
		printList(stdout, list)
		if err := printVirtualList(ctx, stdout, c, ns); err != nil {
			return fail(stderr, "status", err)
		}
		return 0
	}
	st, err := c.Status(ctx, a.namespace, name)
	if isNotFound(err) {
		return runVirtualStatus(ctx, c, a, name, err, stdout, stderr)
	}
	if err != nil {
		return fail(stderr, "status", err)
	}
	if a.output == "json" {
		return writeJSON(stdout, st)
	}
	printStatus(stdout, st)
	return 0
}

// runVirtualStatus shows the virtual server name, when there is no server
// of that name (serverErr says so otherwise).
func runVirtualStatus(ctx context.Context, c *admin.Client, a apiFlags, name string, serverErr error, stdout, stderr io.Writer) int {
	vs, err := c.VirtualStatus(ctx, a.namespace, name)
	if isNotFound(err) {
		return fail(stderr, "status", serverErr)
	}
	if err != nil {
		return fail(stderr, "status", err)
	}
	if a.output == "json" {
		return writeJSON(stdout, vs)
	}
	printVirtualStatus(stdout, vs)
	return 0
}

func runLogs(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var a apiFlags
	a.register(fs, false)
	o := admin.LogOptions{}
	fs.StringVar(&o.Pod, "pod", "", "pod of the server (default: a ready one)")
	fs.StringVar(&o.Container, "c", "", "container (default: the MCP server's)")
	fs.BoolVar(&o.Previous, "previous", false, "the previous, terminated container's log")
	fs.BoolVar(&o.Follow, "f", false, "follow the log until Ctrl-C, the container ends, or the gateway ends the stream (after an hour)")
	fs.BoolVar(&o.Timestamps, "timestamps", false, "prefix each line with its time")
	fs.Int64Var(&o.TailLines, "tail", -1, "only the last N lines; -1 for all")
	name, c, err := a.prepare(fs, args, false)
	if err != nil {
		return usageError(stderr, "logs", err)
	}
	ctx, cancel := signalContext()
	defer cancel()
	if err := c.Logs(ctx, a.namespace, name, o, stdout); err != nil {
		return fail(stderr, "logs", err)
	}
	if o.Follow && ctx.Err() == nil {
		fmt.Fprintln(stderr, "mcpctl logs: the stream ended (the container stopped, or the gateway ends followed streams after an hour)")
	}
	return 0
}

func runRestart(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("restart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var a apiFlags
	a.register(fs, false)
	name, c, err := a.prepare(fs, args, false)
	if err != nil {
		return usageError(stderr, "restart", err)
	}
	ctx, cancel := signalContext()
	defer cancel()
	res, err := c.Restart(ctx, a.namespace, name)
	if err != nil {
		return fail(stderr, "restart", err)
	}
	fmt.Fprintf(stdout, "deployment %s/%s restarted at %s\n", a.namespace, res.Deployment, res.RestartedAt)
	return 0
}

func usageError(stderr io.Writer, cmd string, err error) int {
	if !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stderr, "mcpctl %s: %v\n", cmd, err)
	}
	return 2
}

func writeJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return 1
	}
	return 0
}

func printList(w io.Writer, list []admin.ServerSummary) {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tSERVER\tDEPLOYMENT\tTRANSPORT\tREADY\tCALLER-AUTH\tHIBERNATION")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", s.Namespace, s.Name, s.Deployment, s.Transport, s.ReadyReplicas, s.DesiredReplicas, callerAuth(s), column(s.Hibernation))
	}
	_ = tw.Flush()
}

// callerAuth says whether the server's pods serve MCP only to the gateway:
// "mtls" when all do, "none" when none does, and how many during a rollout
// (pods injected before caller authentication do not, until they roll).
func callerAuth(s admin.ServerSummary) string {
	switch {
	case s.Pods == 0:
		return s.CallerAuth
	case s.CallerAuthPods == s.Pods:
		return "mtls"
	case s.CallerAuthPods == 0:
		return "none"
	}
	return fmt.Sprintf("mtls on %d/%d pods", s.CallerAuthPods, s.Pods)
}

func printStatus(w io.Writer, st *admin.ServerStatus) {
	fmt.Fprintf(w, "Server:      %s/%s\n", st.Namespace, st.Name)
	fmt.Fprintf(w, "Deployment:  %s\n", st.Deployment)
	fmt.Fprintf(w, "Transport:   %s\n", st.Transport)
	fmt.Fprintf(w, "Ready:       %d/%d\n", st.ReadyReplicas, st.DesiredReplicas)
	fmt.Fprintf(w, "Caller auth: %s (new pods: %s)\n", callerAuth(st.ServerSummary), st.CallerAuth)
	fmt.Fprintf(w, "Hibernation: %s\n", describe(st.Hibernation))
	if st.AllowedTools != nil {
		fmt.Fprintf(w, "Tools:       %s\n", *st.AllowedTools)
	}
	if st.RestartedAt != "" {
		fmt.Fprintf(w, "Restarted:   %s\n", st.RestartedAt)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "POD\tPHASE\tREADY\tRESTARTS\tAGE\tCALLER-AUTH\tREASON")
	for _, p := range st.Pods {
		fmt.Fprintf(tw, "%s\t%s\t%t\t%d\t%s\t%s\t%s\n", p.Name, p.Phase, p.Ready, p.Restarts, p.Age, p.CallerAuth, p.Reason)
	}
	_ = tw.Flush()
	for _, p := range st.Pods {
		if p.Message != "" {
			fmt.Fprintf(w, "\n%s: %s: %s\n", p.Name, p.Reason, p.Message)
		}
		printEvents(w, "  ", p.WarningEvents)
	}
	if len(st.WarningEvents) > 0 {
		fmt.Fprintf(w, "\nDeployment %s:\n", st.Deployment)
		printEvents(w, "  ", st.WarningEvents)
	}
}

func printEvents(w io.Writer, indent string, evs []admin.EventStatus) {
	for _, e := range evs {
		fmt.Fprintf(w, "%sWarning %s (x%d, %s): %s\n", indent, e.Reason, e.Count, e.LastSeen, e.Message)
	}
}
