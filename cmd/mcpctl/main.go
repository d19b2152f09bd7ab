// Command mcpctl is the MCP Orchestrator command line. `mcpctl inject`
// renders what the admission webhook would store, for GitOps users who keep
// the injected result in Git.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `mcpctl: MCP Orchestrator command line

Usage:
  mcpctl inject -f FILE|- [--config FILE]   print the injected form of the Deployments in FILE
  mcpctl version                            print the version
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
