// Command mcpctl is the MCP Orchestrator command line. `mcpctl inject`
// renders what the admission webhook would store, for GitOps users who keep
// the injected result in Git; status, logs, restart, wake and hibernate are
// the gateway's operators' API for people.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `mcpctl: MCP Orchestrator command line

Usage:
  mcpctl inject -f FILE|- [--config FILE]   print the injected form of the Deployments in FILE
  mcpctl status [NAME] [-n NS | -A] [-o json] status of one server, or the list
  mcpctl logs NAME [-n NS] [-f] [--tail N] [-c CONTAINER] [--pod POD] [--previous]
  mcpctl restart NAME [-n NS]               rollout restart of the server's Deployment
  mcpctl wake NAME [-n NS]                  scale a hibernated server back up
  mcpctl hibernate NAME [-n NS]             scale a server to zero now (its next request wakes it)
  mcpctl version                            print the version

status, logs, restart, wake and hibernate call the gateway's API: --gateway URL (or MCP_GATEWAY)
and a bearer token from --token-file (or MCP_GATEWAY_TOKEN_FILE, or the token
in MCP_GATEWAY_TOKEN): a ServiceAccount token, a static token, or an access
token of the gateway's identity provider for the gateway's URL (its audience).
"mcpctl COMMAND -h" lists a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "inject":
		return runInject(args[1:], stdin, stdout, stderr)
	case "status":
		return runStatus(args[1:], stdout, stderr)
	case "logs":
		return runLogs(args[1:], stdout, stderr)
	case "restart":
		return runRestart(args[1:], stdout, stderr)
	case "wake", "hibernate":
		return runHibernation(args[0], args[1:], stdout, stderr)
	case "version":
		return runVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "mcpctl: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
