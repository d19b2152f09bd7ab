package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// requirementsDir is where the installed suite keeps its requirement sets,
// relative to the repository root.
const requirementsDir = "tools/conformance/node_modules/@modelcontextprotocol/conformance/requirements"

// Option changes what Run runs.
type Option func(*options)

type options struct {
	scenarios []string
	suiteArgs []string
}

// Scenarios runs only the named scenarios (at the revision's wire) instead of
// the whole requirement set.
func Scenarios(names ...string) Option {
	return func(o *options) { o.scenarios = append(o.scenarios, names...) }
}

// SuiteArgs passes arguments on to `conformance server`, e.g. "--timeout", "10000".
func SuiteArgs(args ...string) Option {
	return func(o *options) { o.suiteArgs = append(o.suiteArgs, args...) }
}

// Run runs the conformance suite's server scenarios of the requirement set
// for revision (2026-07-28 or 2025-11-25) against the MCP endpoint url, and
// returns their results. It installs the suite on first use. A run whose
// scenarios fail is a result, not an error: see RequireAllPass.
func Run(t testing.TB, url, revision string, opts ...Option) Result {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("conformance: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "results")
	args := []string{"--url", url, "--requirements", revision, "-o", dir}
	for _, s := range o.scenarios {
		args = append(args, "--scenario", s)
	}
	if len(o.suiteArgs) > 0 {
		args = append(append(args, "--"), o.suiteArgs...)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(t.Context(), filepath.Join(root, "hack", "conformance.sh"), args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	var exit *exec.ExitError
	// Exit 1 is "some check failed", which the parsed results show; anything
	// else (usage, install failure, a killed run) leaves nothing to parse.
	if runErr != nil && (!errors.As(runErr, &exit) || exit.ExitCode() != 1) {
		t.Fatalf("conformance: hack/conformance.sh: %v\n%s", runErr, out.String())
	}
	req, err := LoadRequirements(filepath.Join(root, requirementsDir, revision+".yaml"))
	if err != nil {
		t.Fatalf("conformance: %v", err)
	}
	scenarios, err := Parse(dir, req, o.scenarios...)
	if err != nil {
		t.Fatalf("conformance: %v\n%s", err, out.String())
	}
	return Result{URL: url, Revision: revision, Dir: dir, Summary: out.String(), Scenarios: scenarios}
}

// Failure is one reason a scenario did not pass.
type Failure struct {
	Scenario string
	CheckID  string // empty when the scenario did not run or crashed
	Message  string
}

func (f Failure) String() string {
	if f.CheckID == "" {
		return fmt.Sprintf("%s: %s", f.Scenario, f.Message)
	}
	return fmt.Sprintf("%s [%s]: %s", f.Scenario, f.CheckID, f.Message)
}

// Failures lists every failed check of the required scenarios (see
// Scenario.Required), and with all also of the others.
func (r Result) Failures(all bool) []Failure {
	var out []Failure
	for _, s := range r.Scenarios {
		if !s.Required() && !all {
			continue
		}
		switch s.State {
		case NotRun:
			out = append(out, Failure{Scenario: s.Name, Message: "scenario did not run"})
		case Crashed:
			out = append(out, Failure{Scenario: s.Name, Message: "scenario threw before writing its checks (see the suite log)"})
		}
		for _, c := range s.Checks {
			if c.Status != CheckFailure {
				continue
			}
			msg := c.ErrorMessage
			if msg == "" {
				msg = c.Description
			}
			out = append(out, Failure{Scenario: s.Name, CheckID: c.ID, Message: msg})
		}
	}
	return out
}

// RequireAllPass fails the test, listing every failed check with its
// message, unless every required scenario passed: the scored ones and the
// pending ones. Failures of the tasks extension's scenarios are logged
// only.
func RequireAllPass(t testing.TB, res Result) {
	t.Helper()
	if failed := res.Failures(false); len(failed) > 0 {
		t.Errorf("conformance %s against %s: %d failed checks (results in %s):\n  %s",
			res.Revision, res.URL, len(failed), res.Dir, strings.Join(lines(failed), "\n  "))
	}
	var unscored []string
	for _, f := range res.Failures(true) {
		if s, _ := res.Scenario(f.Scenario); !s.Required() {
			unscored = append(unscored, f.String())
		}
	}
	if len(unscored) > 0 {
		t.Logf("conformance %s: failures of the tasks extension (not required):\n  %s", res.Revision, strings.Join(unscored, "\n  "))
	}
	t.Logf("conformance %s against %s: %s", res.Revision, res.URL, res.Counts())
}

func lines(fs []Failure) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.String()
	}
	return out
}

// repoRoot finds the repository root from the test's working directory
// (a package directory inside it).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "conformance.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no hack/conformance.sh above the working directory")
		}
		dir = parent
	}
}
