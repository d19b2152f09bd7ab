// Package conformance runs the official MCP conformance suite
// (hack/conformance.sh) against a server URL from a Go test and reads its
// results: per scenario, whether it passed and each check's status.
package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	"sigs.k8s.io/yaml"
)

// Check statuses the suite writes. Only CheckFailure fails a scenario.
const (
	CheckSuccess = "SUCCESS"
	CheckFailure = "FAILURE"
	CheckWarning = "WARNING" // a SHOULD the server does not meet
	CheckSkipped = "SKIPPED" // not applicable at this revision or to this server
	CheckInfo    = "INFO"
)

// State is a scenario's outcome.
type State string

const (
	Pass State = "PASS"
	Fail State = "FAIL"
	// NotRun: the run has no result dir for the scenario (the suite stopped
	// before it, or does not know it).
	NotRun State = "NOT-RUN"
	// Crashed: the scenario threw; the suite made its dir but wrote no checks.
	Crashed State = "CRASHED"
)

// Check is one entry of a scenario's checks.json.
type Check struct {
	ID           string         `json:"id"`
	Name         string         `json:"name"`
	Description  string         `json:"description"`
	Status       string         `json:"status"`
	ErrorMessage string         `json:"errorMessage,omitempty"`
	Details      map[string]any `json:"details,omitempty"`
}

// Scenario is one scenario's result.
type Scenario struct {
	Name string
	// NotScored is the requirement set's reason for not scoring the
	// scenario (extension, pending, added-after-release); empty if scored.
	NotScored string
	State     State
	Checks    []Check
}

// Scored reports whether the scenario counts toward conformance.
func (s Scenario) Scored() bool { return s.NotScored == "" }

// Required reports whether our tests require the scenario to pass: every
// scored one, and the not-scored ones too except the tasks extension
// (reason extension), which the reference servers do not implement. A
// scenario "pending against the reference fixture" is one an
// implementation may pass, and what we build must.
func (s Scenario) Required() bool { return s.NotScored != "extension" }

// Result is one run of the suite for one revision.
type Result struct {
	URL, Revision string
	Dir           string // the suite's output directory
	Summary       string // hack/conformance.sh's output
	Scenarios     []Scenario
}

// Scenario returns the named scenario's result.
func (r Result) Scenario(name string) (Scenario, bool) {
	i := slices.IndexFunc(r.Scenarios, func(s Scenario) bool { return s.Name == name })
	if i < 0 {
		return Scenario{}, false
	}
	return r.Scenarios[i], true
}

// Counts says how many required scenarios passed and how many checks
// succeeded and failed in them, and the same for the scenarios not
// required (the tasks extension): the figures a run is reported with.
func (r Result) Counts() string {
	var req, notReq struct{ scenarios, passed, ok, failed int }
	for _, s := range r.Scenarios {
		c := &req
		if !s.Required() {
			c = &notReq
		}
		c.scenarios++
		if s.State == Pass {
			c.passed++
		}
		for _, ch := range s.Checks {
			switch ch.Status {
			case CheckSuccess:
				c.ok++
			case CheckFailure:
				c.failed++
			}
		}
	}
	return fmt.Sprintf("required: %d/%d scenarios passed, %d checks ok, %d failed; not required: %d/%d scenarios passed, %d checks ok, %d failed",
		req.passed, req.scenarios, req.ok, req.failed, notReq.passed, notReq.scenarios, notReq.ok, notReq.failed)
}

// Requirements is the part of a requirement set (the suite's
// requirements/<revision>.yaml) that concerns the server leg.
type Requirements struct {
	Server    []string    `json:"server"`
	NotScored []NotScored `json:"not_scored"`
}

// NotScored is a scenario the suite runs and reports but does not score.
type NotScored struct {
	Scenario string `json:"scenario"`
	Leg      string `json:"leg"`
	Reason   string `json:"reason"`
}

// LoadRequirements reads a requirement set file.
func LoadRequirements(path string) (Requirements, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Requirements{}, fmt.Errorf("read requirement set: %w", err)
	}
	var req Requirements
	if err := yaml.Unmarshal(b, &req); err != nil {
		return Requirements{}, fmt.Errorf("parse requirement set %s: %w", path, err)
	}
	return req, nil
}

// scenarios lists what a full run of the set runs: scored, then not scored.
func (r Requirements) scenarios() []Scenario {
	var out []Scenario
	for _, s := range r.Server {
		out = append(out, Scenario{Name: s})
	}
	for _, n := range r.NotScored {
		if n.Leg == "server" {
			out = append(out, Scenario{Name: n.Scenario, NotScored: n.Reason})
		}
	}
	return out
}

// resultDirName is server-<scenario>-<ISO time with ':' and '.' as '-'>.
var resultDirName = regexp.MustCompile(`^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$`)

// Parse reads the results the suite wrote into dir for the scenarios of req.
// With only set, the run was of those scenarios (a subset of req or not).
func Parse(dir string, req Requirements, only ...string) ([]Scenario, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	dirs := map[string]string{}
	for _, e := range entries {
		if m := resultDirName.FindStringSubmatch(e.Name()); m != nil && e.IsDir() {
			dirs[m[1]] = filepath.Join(dir, e.Name())
		}
	}
	want := req.scenarios()
	if len(only) > 0 {
		want = selectScenarios(want, only)
	}
	for i := range want {
		if err := load(&want[i], dirs[want[i].Name]); err != nil {
			return nil, err
		}
	}
	return want, nil
}

// selectScenarios keeps the named scenarios, in the given order, with their
// scoring from the set; a name the set does not have counts as scored.
func selectScenarios(all []Scenario, names []string) []Scenario {
	out := make([]Scenario, 0, len(names))
	for _, n := range names {
		s := Scenario{Name: n}
		if i := slices.IndexFunc(all, func(s Scenario) bool { return s.Name == n }); i >= 0 {
			s = all[i]
		}
		out = append(out, s)
	}
	return out
}

func load(s *Scenario, dir string) error {
	if dir == "" {
		s.State = NotRun
		return nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "checks.json"))
	if errors.Is(err, fs.ErrNotExist) {
		s.State = Crashed
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s results: %w", s.Name, err)
	}
	if err := json.Unmarshal(b, &s.Checks); err != nil {
		return fmt.Errorf("parse %s results: %w", s.Name, err)
	}
	s.State = Pass
	if slices.ContainsFunc(s.Checks, func(c Check) bool { return c.Status == CheckFailure }) {
		s.State = Fail
	}
	return nil
}
