package injector

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
)

// Record is the value of the injected annotation: what one injection added
// to the pod template, so the next admission can take exactly that away
// before injecting again. That single mechanism makes injection idempotent
// (strip + inject of an injected object gives the same object), reversible
// (label removed: strip only) and upgradeable (a new version or config
// strips the old additions and injects the new ones).
//
// Items that a user could later write themselves carry a fingerprint of the
// value we wrote; strip only removes an item whose value is still ours, so a
// user's own edit is never taken away.
type Record struct {
	Version   string `json:"version,omitempty"`
	Config    string `json:"config"`
	Container string `json:"container"`
	// Image is the base image we set on a container that had none.
	Image string `json:"image,omitempty"`
	// Command and Args fingerprint what we copied from the annotations.
	Command string `json:"command,omitempty"`
	Args    string `json:"args,omitempty"`
	// Wrapped: the command is prefixed with the launcher.
	Wrapped bool `json:"wrapped,omitempty"`
	// Env holds name=fingerprint of env vars added to the server container.
	Env     []string `json:"env,omitempty"`
	EnvFrom []string `json:"envFrom,omitempty"`
	// Mounts holds the volume names mounted into the server container.
	Mounts []string `json:"mounts,omitempty"`
	// PreStop fingerprints the drain hook we set on the server container.
	PreStop string `json:"preStop,omitempty"`
	// Security holds field=fingerprint of securityContext fields we set.
	Security []string `json:"securityContext,omitempty"`
	// Resources holds requests/NAME=fingerprint and limits/NAME=fingerprint.
	Resources      []string          `json:"resources,omitempty"`
	InitContainers []string          `json:"initContainers,omitempty"`
	Volumes        []string          `json:"volumes,omitempty"`
	PullSecrets    []string          `json:"imagePullSecrets,omitempty"`
	Tolerations    string            `json:"tolerations,omitempty"`
	NodeSelector   map[string]string `json:"nodeSelector,omitempty"`
	AutomountToken string            `json:"automountServiceAccountToken,omitempty"`
	PodLabels      []string          `json:"podLabels,omitempty"`
	PodAnnotations []string          `json:"podAnnotations,omitempty"`
}

func (r *Record) encode() string {
	data, _ := json.Marshal(r) // a Record always marshals
	return string(data)
}

func decodeRecord(s string) (*Record, error) {
	var r Record
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return nil, fmt.Errorf("not written by this webhook: %w", err)
	}
	if r.Config == "" || r.Container == "" {
		return nil, fmt.Errorf("not written by this webhook: config or container missing")
	}
	return &r, nil
}

// fingerprint is a short digest of a JSON-encodable value. Strings, the
// most common case, skip the encoder. Fingerprints are part of the marker
// format: changing how they are computed makes old markers unstrippable.
func fingerprint(v any) string {
	var data []byte
	if s, ok := v.(string); ok {
		data = append([]byte("string:"), s...)
	} else {
		data, _ = json.Marshal(v) // values here always encode
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:6])
}

// keyed is the NAME=fingerprint form of a record item.
func keyed(name string, v any) string { return name + "=" + fingerprint(v) }

// has reports whether the record lists NAME=fingerprint(v).
func has(items []string, name string, v any) bool {
	return slices.Contains(items, keyed(name, v))
}
