package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// HibernateOff is the hibernate-after value that turns hibernation off.
const HibernateOff = "off"

// MinHibernateAfter is the shortest hibernate-after a platform accepts
// unless its config lowers the floor (tests do, to watch it in seconds).
const MinHibernateAfter = 2 * time.Minute

// ParseHibernateAfter reads a hibernate-after value: 0 for "off", else a
// positive Go duration. The floor is the caller's (MinHibernateAfter or the
// platform's): the webhook refuses shorter values, the gateway raises them.
func ParseHibernateAfter(v string) (time.Duration, error) {
	if v == HibernateOff {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	// The schema's form too: what it refuses (+30m, .5h) is refused here.
	if err != nil || d <= 0 || !hibernateAfterForm.MatchString(v) {
		return 0, fmt.Errorf("must be a duration such as 30m or 2h, or %q", HibernateOff)
	}
	return d, nil
}

var hibernateAfterForm = regexp.MustCompile(patternHibernateAfter)

// States of a hibernation record.
const (
	// HibernationHibernating: the replicas to restore are recorded, the
	// scale to 0 may not have happened yet.
	HibernationHibernating = "hibernating"
	// HibernationHibernated: scaled to 0 by the gateway.
	HibernationHibernated = "hibernated"
	// HibernationWaking: a wake is recorded, the scale back up may not have
	// happened yet, or no pod is ready yet.
	HibernationWaking = "waking"
	// HibernationAwake: running; the record only remembers that someone else
	// scaled the Deployment up after a hibernation (Overrides).
	HibernationAwake = "awake"
	// HibernationUnmanaged: someone else keeps writing the replica count;
	// the gateway leaves the Deployment alone until the record is removed or
	// an operator hibernates it explicitly.
	HibernationUnmanaged = "unmanaged"
)

// Causes of a hibernation record's state.
const (
	CauseIdle       = "idle"       // no MCP traffic for the window
	CauseOperator   = "operator"   // the operators' API (mcpctl hibernate|wake)
	CauseRequest    = "request"    // an MCP request for a hibernated server
	CauseOthers     = "others"     // someone else scaled it up
	CauseAutoscaler = "autoscaler" // an HPA (or KEDA) targets it now
	CauseConfig     = "config"     // hibernate-after turned off
)

// Hibernation is the record the gateway keeps in the AnnHibernation
// annotation of a Deployment it hibernates: what to restore, and why and
// since when it is in its state. EncodeHibernation and ParseHibernation are
// its only writer and reader.
type Hibernation struct {
	State string `json:"state"`
	// Replicas is the replica count a wake restores.
	Replicas int32     `json:"replicas,omitempty"`
	Since    time.Time `json:"since"`
	Cause    string    `json:"cause,omitempty"`
	// Reason says it in words, for operators.
	Reason string `json:"reason,omitempty"`
	// By is the gateway replica (pod) that wrote the record.
	By string `json:"by,omitempty"`
	// Overrides counts the times in a row someone else scaled the
	// Deployment up after a hibernation; at 2 it becomes unmanaged.
	Overrides int `json:"overrides,omitempty"`
}

// EncodeHibernation returns the annotation value of h.
func EncodeHibernation(h Hibernation) string {
	h.Since = h.Since.UTC().Truncate(time.Millisecond)
	b, _ := json.Marshal(h) // strings, numbers and a time always encode
	return string(b)
}

// ParseHibernation reads an AnnHibernation value. Unknown fields are
// ignored, so an older gateway reads a newer one's record.
func ParseHibernation(v string) (Hibernation, error) {
	var h Hibernation
	if err := json.Unmarshal([]byte(v), &h); err != nil {
		return Hibernation{}, errors.New("not a hibernation record (JSON)")
	}
	switch h.State {
	case HibernationHibernating, HibernationHibernated, HibernationWaking:
		if h.Replicas < 1 {
			return Hibernation{}, fmt.Errorf("state %s needs replicas >= 1", h.State)
		}
	case HibernationAwake, HibernationUnmanaged:
	default:
		return Hibernation{}, fmt.Errorf("unknown state %q", h.State)
	}
	if h.Since.IsZero() || h.Overrides < 0 || h.Replicas < 0 {
		return Hibernation{}, errors.New("since missing, or a negative count")
	}
	// An offset can carry a valid time past year 9999 in UTC, which
	// EncodeHibernation could not write back (JSON times end there).
	if y := h.Since.UTC().Year(); y < 0 || y > 9999 {
		return Hibernation{}, fmt.Errorf("since %s is out of range", h.Since.Format(time.RFC3339))
	}
	return h, nil
}

// Leases of the gateway in its own namespace: the hibernator's leader
// election, and one activity Lease per server whose renewTime is the last
// MCP request any gateway replica saw for it.
const (
	HibernatorLease = "mcp-gateway-hibernator"
	// ActivityLeasePrefix starts every activity Lease's name.
	ActivityLeasePrefix = "mcp-activity."
	// ComponentLabel = ActivityComponent (with ManagedByLabel) marks the
	// activity Leases, which the gateway watches.
	ActivityComponent = "mcp-activity"
)

// ActivityLeaseName is the activity Lease of namespace/server. Neither part
// holds a dot (a namespace and a server name are DNS labels), so the name
// is unambiguous.
func ActivityLeaseName(namespace, server string) string {
	return ActivityLeasePrefix + namespace + "." + server
}

// ParseActivityLeaseName is the inverse of ActivityLeaseName.
func ParseActivityLeaseName(name string) (namespace, server string, ok bool) {
	rest, found := strings.CutPrefix(name, ActivityLeasePrefix)
	if !found {
		return "", "", false
	}
	namespace, server, ok = strings.Cut(rest, ".")
	return namespace, server, ok && namespace != "" && server != "" && !strings.Contains(server, ".")
}
