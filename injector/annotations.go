package injector

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Spec is the parsed, validated set of annotations of one Deployment.
type Spec struct {
	Server               string
	Transport            string
	Container            string
	Command, Args        []string
	SecretEnv            []SecretEnv
	SecretEnvFrom        []string
	SecretFiles          []SecretFile
	ImagePullSecrets     []string
	RegistryCredentials  string
	InheritScheduling    bool
	Port                 int32
	PortSet              bool
	Path                 string
	Sessions             string
	MaxSessions          int
	RequestHeadersSecret string
	AllowedTools         []string
	// HibernateAfter is the hibernate-after window; 0: off or unset (the
	// gateway's default). The platform's floor is checked by Admit.
	HibernateAfter    time.Duration
	hibernateAfterRaw string
	// set records which annotations were present, for warnings about
	// annotations that do not apply to the chosen transport.
	set map[string]bool
}

// SecretEnv is one VAR=secret:key item of secret-env.
type SecretEnv struct{ Var, Secret, Key string }

// SecretFile is one secret:/path item of secret-files.
type SecretFile struct{ Secret, Path string }

// annotation is one entry of the registry: its key and the parser that
// validates a value and stores it in the Spec. A parser reports every
// problem of its value; it never stops at the first.
type annotation struct {
	key   string
	parse func(v string, fp *field.Path, s *Spec) field.ErrorList
}

// registry is the one place that knows every user annotation.
var registry = []annotation{
	{api.AnnTransport, func(v string, fp *field.Path, s *Spec) field.ErrorList {
		return oneOf(v, fp, &s.Transport, api.TransportStdio, api.TransportStreamableHTTP)
	}},
	{api.AnnContainer, func(v string, fp *field.Path, s *Spec) field.ErrorList {
		s.Container = v
		return dns1123Label(v, fp)
	}},
	{api.AnnCommand, func(v string, fp *field.Path, s *Spec) field.ErrorList {
		return words(v, fp, &s.Command)
	}},
	{api.AnnArgs, func(v string, fp *field.Path, s *Spec) field.ErrorList {
		return words(v, fp, &s.Args)
	}},
	{api.AnnSecretEnv, parseSecretEnv},
	{api.AnnSecretEnvFrom, func(v string, fp *field.Path, s *Spec) field.ErrorList {
		return secretNames(v, fp, &s.SecretEnvFrom)
	}},
	{api.AnnSecretFiles, parseSecretFiles},
	{api.AnnImagePullSecrets, func(v string, fp *field.Path, s *Spec) field.ErrorList {
		return secretNames(v, fp, &s.ImagePullSecrets)
	}},
	{api.AnnRegistryCredentials, func(v string, fp *field.Path, s *Spec) field.ErrorList {
		s.RegistryCredentials = v
		return secretName(v, fp)
	}},
	{api.AnnInheritScheduling, func(v string, fp *field.Path, s *Spec) field.ErrorList {
		switch v {
		case "true":
			s.InheritScheduling = true
		case "false":
			s.InheritScheduling = false
		default:
			return field.ErrorList{field.Invalid(fp, v, `must be "true" or "false"`)}
		}
		return nil
	}},
	{api.AnnPort, func(v string, fp *field.Path, s *Spec) field.ErrorList {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != v { // no sign, no leading 0: the schema's form
			return field.ErrorList{field.Invalid(fp, v, "must be a port number between 1 and 65535")}
		}
		s.Port, s.PortSet = int32(n), true
		return nil
	}},
	{api.AnnPath, func(v string, fp *field.Path, s *Spec) field.ErrorList {
		s.Path = v
		u, err := url.Parse(v)
		if err != nil || !strings.HasPrefix(v, "/") || u.Path != v || u.RawQuery != "" || u.Fragment != "" {
			return field.ErrorList{field.Invalid(fp, v, "must be an absolute URL path such as /mcp, without query or fragment")}
		}
		return nil
	}},
	{api.AnnSessions, func(v string, fp *field.Path, s *Spec) field.ErrorList {
		return oneOf(v, fp, &s.Sessions, api.SessionsPerSession, api.SessionsShared)
	}},
	{api.AnnMaxSessions, func(v string, fp *field.Path, s *Spec) field.ErrorList {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100000 || strconv.Itoa(n) != v {
			return field.ErrorList{field.Invalid(fp, v, "must be an integer between 1 and 100000")}
		}
		s.MaxSessions = n
		return nil
	}},
	{api.AnnRequestHeadersSecret, func(v string, fp *field.Path, s *Spec) field.ErrorList {
		s.RequestHeadersSecret = v
		return secretName(v, fp)
	}},
	{api.AnnAllowedTools, parseAllowedTools},
	{api.AnnHibernateAfter, func(v string, fp *field.Path, s *Spec) field.ErrorList {
		d, err := api.ParseHibernateAfter(v)
		if err != nil {
			return field.ErrorList{field.Invalid(fp, v, err.Error())}
		}
		s.HibernateAfter, s.hibernateAfterRaw = d, v
		return nil
	}},
}

// Parse reads the server label and every annotation of the registry. It
// returns all problems at once (field paths name the annotation key) and
// warnings for soft problems. Unknown keys with our prefix are errors, since
// they are nearly always typos that would otherwise be silently ignored.
func Parse(labels, annotations map[string]string) (*Spec, field.ErrorList, []string) {
	s := &Spec{
		Server:            labels[api.ServerLabel],
		Transport:         api.TransportStdio,
		InheritScheduling: true,
		Port:              api.DefaultPort,
		Path:              api.DefaultPath,
		Sessions:          api.SessionsPerSession,
		set:               map[string]bool{},
	}
	var errs field.ErrorList
	labelPath := field.NewPath("metadata", "labels").Key(api.ServerLabel)
	for _, msg := range validation.IsDNS1123Label(s.Server) {
		errs = append(errs, field.Invalid(labelPath, s.Server, msg))
	}
	annPath := field.NewPath("metadata", "annotations")
	// Written by the webhook and by the gateway, not by users.
	known := map[string]bool{api.AnnInjected: true, api.AnnHibernation: true}
	for _, a := range registry {
		known[a.key] = true
		v, ok := annotations[a.key]
		if !ok {
			continue
		}
		s.set[a.key] = true
		errs = append(errs, a.parse(v, annPath.Key(a.key), s)...)
	}
	if v, ok := annotations[api.AnnHibernation]; ok {
		if _, err := api.ParseHibernation(v); err != nil {
			errs = append(errs, field.Invalid(annPath.Key(api.AnnHibernation), field.OmitValueType{},
				err.Error()+"; this annotation is written by the gateway only, remove it"))
		}
	}
	for _, k := range sortedKeys(annotations) {
		if strings.HasPrefix(k, api.Prefix) && !known[k] {
			msg := "unknown annotation"
			if hint := closestKey(k); hint != "" {
				msg += fmt.Sprintf("; did you mean %s?", hint)
			}
			errs = append(errs, field.Invalid(annPath.Key(k), field.OmitValueType{}, msg))
		}
	}
	return s, errs, s.transportWarnings()
}

// transportWarnings flags annotations that the chosen transport ignores.
func (s *Spec) transportWarnings() []string {
	var ignored []string
	if s.Transport == api.TransportStdio {
		ignored = []string{api.AnnPort, api.AnnPath, api.AnnRequestHeadersSecret}
	} else {
		ignored = []string{api.AnnSessions, api.AnnMaxSessions}
	}
	var warnings []string
	for _, k := range ignored {
		if s.set[k] {
			warnings = append(warnings, fmt.Sprintf("%s is ignored with transport %s", k, s.Transport))
		}
	}
	return warnings
}

func oneOf(v string, fp *field.Path, dst *string, allowed ...string) field.ErrorList {
	for _, a := range allowed {
		if v == a {
			*dst = v
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(fp, v, allowed)}
}

func words(v string, fp *field.Path, dst *[]string) field.ErrorList {
	w, err := parseWords(v)
	if err != nil {
		// The value is left out: commands are where people paste tokens.
		return field.ErrorList{field.Invalid(fp, field.OmitValueType{}, err.Error())}
	}
	*dst = w
	return nil
}

func dns1123Label(v string, fp *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(v) {
		errs = append(errs, field.Invalid(fp, v, msg))
	}
	return errs
}

// secretName validates a Secret reference. The value is never echoed: a
// user who pastes a token where a Secret name belongs must not find it in
// an error message, an event or a log.
func secretName(v string, fp *field.Path) field.ErrorList {
	if msgs := validation.IsDNS1123Subdomain(v); len(msgs) > 0 {
		return field.ErrorList{field.Invalid(fp, field.OmitValueType{}, "not a valid Secret name: "+msgs[0])}
	}
	return nil
}

func secretNames(v string, fp *field.Path, dst *[]string) field.ErrorList {
	items, err := splitList(v)
	if err != nil {
		return field.ErrorList{field.Invalid(fp, field.OmitValueType{}, err.Error())}
	}
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, it := range items {
		errs = append(errs, secretName(it, fp.Index(i))...)
		if seen[it] {
			errs = append(errs, field.Duplicate(fp, it))
		}
		seen[it] = true
	}
	*dst = items
	return errs
}

func parseSecretEnv(v string, fp *field.Path, s *Spec) field.ErrorList {
	items, err := splitList(v)
	if err != nil {
		return field.ErrorList{field.Invalid(fp, field.OmitValueType{}, err.Error())}
	}
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, it := range items {
		// Items are never echoed whole: a pasted token would end up in
		// the denial message.
		ifp := fp.Index(i)
		name, ref, ok := strings.Cut(it, "=")
		secret, key, ok2 := strings.Cut(ref, ":")
		if !ok || !ok2 {
			errs = append(errs, field.Invalid(ifp, field.OmitValueType{}, "must look like VAR=secret:key"))
			continue
		}
		for _, msg := range validation.IsEnvVarName(name) {
			errs = append(errs, field.Invalid(ifp, name, "env var name: "+msg))
		}
		errs = append(errs, secretName(secret, ifp)...)
		if msgs := validation.IsConfigMapKey(key); len(msgs) > 0 {
			errs = append(errs, field.Invalid(ifp, field.OmitValueType{}, "not a valid Secret key: "+msgs[0]))
		}
		if seen[name] {
			errs = append(errs, field.Duplicate(fp, name))
		}
		seen[name] = true
		s.SecretEnv = append(s.SecretEnv, SecretEnv{Var: name, Secret: secret, Key: key})
	}
	return errs
}

// reservedPaths are mounted by the injection itself.
var reservedPaths = []string{"/tmp", api.SharedDir}

func parseSecretFiles(v string, fp *field.Path, s *Spec) field.ErrorList {
	items, err := splitList(v)
	if err != nil {
		return field.ErrorList{field.Invalid(fp, field.OmitValueType{}, err.Error())}
	}
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, it := range items {
		secret, p, ok := strings.Cut(it, ":")
		if !ok {
			errs = append(errs, field.Invalid(fp.Index(i), field.OmitValueType{}, "must look like secret:/absolute/path"))
			continue
		}
		errs = append(errs, secretName(secret, fp.Index(i))...)
		switch {
		case !path.IsAbs(p) || path.Clean(p) != p || p == "/":
			errs = append(errs, field.Invalid(fp, p, "mount path must be a clean absolute path other than /"))
		case isUnder(p, reservedPaths...):
			errs = append(errs, field.Invalid(fp, p, fmt.Sprintf("mount path overlaps a path used by the injection (%s)", strings.Join(reservedPaths, ", "))))
		}
		if seen[p] {
			errs = append(errs, field.Duplicate(fp, p))
		}
		seen[p] = true
		s.SecretFiles = append(s.SecretFiles, SecretFile{Secret: secret, Path: p})
	}
	return errs
}

func parseAllowedTools(v string, fp *field.Path, s *Spec) field.ErrorList {
	items, err := splitList(v)
	if err != nil {
		return field.ErrorList{field.Invalid(fp, field.OmitValueType{}, err.Error())}
	}
	var errs field.ErrorList
	seen := map[string]bool{}
	for _, it := range items {
		if len(it) > 128 || strings.ContainsAny(it, " \t\r\n") {
			errs = append(errs, field.Invalid(fp, it, "tool name must be at most 128 characters without whitespace"))
		}
		if seen[it] {
			errs = append(errs, field.Duplicate(fp, it))
		}
		seen[it] = true
	}
	s.AllowedTools = items
	return errs
}

func isUnder(p string, roots ...string) bool {
	for _, r := range roots {
		if p == r || strings.HasPrefix(p, r+"/") || strings.HasPrefix(r, p+"/") {
			return true
		}
	}
	return false
}

// closestKey suggests the registry key nearest to a mistyped one.
func closestKey(k string) string {
	best, bestDist := "", 4
	for _, a := range registry {
		if d := editDistance(k, a.key); d < bestDist {
			best, bestDist = a.key, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func sortedKeys[K ~string, V any](m map[K]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	return keys
}

// SecretRef is a Secret that a Deployment's annotations (or the platform
// config) make its pods depend on.
type SecretRef struct {
	Name string
	// Source is the annotation key, or "platform imagePullSecrets".
	Source string
}

// secretRefs lists the Secrets the spec refers to, each once per source.
func (s *Spec) secretRefs() []SecretRef {
	var refs []SecretRef
	add := func(source string, names ...string) {
		for _, n := range names {
			if !slices.Contains(refs, SecretRef{n, source}) {
				refs = append(refs, SecretRef{n, source})
			}
		}
	}
	for _, e := range s.SecretEnv {
		add(api.AnnSecretEnv, e.Secret)
	}
	add(api.AnnSecretEnvFrom, s.SecretEnvFrom...)
	for _, f := range s.SecretFiles {
		add(api.AnnSecretFiles, f.Secret)
	}
	add(api.AnnImagePullSecrets, s.ImagePullSecrets...)
	if s.RegistryCredentials != "" {
		add(api.AnnRegistryCredentials, s.RegistryCredentials)
	}
	if s.RequestHeadersSecret != "" && s.Transport == api.TransportStreamableHTTP {
		add(api.AnnRequestHeadersSecret, s.RequestHeadersSecret)
	}
	return refs
}
