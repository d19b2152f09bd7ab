package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/archestra-ai/mcp-orchestrator/api"
	"github.com/archestra-ai/mcp-orchestrator/gateway/auth"
)

// VirtualServers is what the API needs of the virtual servers (package
// gateway/virtual): their state as this replica sees it.
type VirtualServers interface {
	VirtualStatuses(namespace string) []VirtualServerStatus
	VirtualStatus(namespace, name string) (VirtualServerStatus, bool)
}

// States of a virtual server.
const (
	VirtualServing  = "Serving"
	VirtualInvalid  = "Invalid"  // its definition has problems: it serves nothing
	VirtualShadowed = "Shadowed" // a real server has its name and keeps the endpoint
)

// States of a member.
const (
	MemberReady      = "Ready"
	MemberNotReady   = "NotReady"   // pods, none ready
	MemberHibernated = "Hibernated" // scaled to zero by hibernation: a call wakes it
	MemberMissing    = "Missing"    // no such server in the namespace
)

// VirtualServerStatus is GET /api/v1/namespaces/{ns}/virtualservers/{name}.
type VirtualServerStatus struct {
	Namespace  string   `json:"namespace"`
	Name       string   `json:"name"`
	ConfigMaps []string `json:"configMaps"`
	State      string   `json:"state"`
	Problems   []string `json:"problems,omitempty"`
	Title      string   `json:"title,omitempty"`
	// Endpoint is the MCP path clients use.
	Endpoint string                `json:"endpoint"`
	Members  []VirtualMemberStatus `json:"members,omitempty"`
}

// VirtualMemberStatus is one member of a virtual server.
type VirtualMemberStatus struct {
	Server    string `json:"server"`
	Prefix    string `json:"prefix"`
	State     string `json:"state"`
	ReadyPods int    `json:"readyPods"`
	Pods      int    `json:"pods"`
	// Tools and Prompts are the assigned names on the virtual server
	// ("prefix__*" for all), Resources the URI patterns ("*" for all).
	Tools     []string `json:"tools"`
	Prompts   []string `json:"prompts"`
	Resources []string `json:"resources"`
	// LeftOut is the last time this replica left the member out of a list.
	LeftOut *LeftOut `json:"lastLeftOut,omitempty"`
}

// LeftOut says when and why a member was last left out of a list.
type LeftOut struct {
	Reason string `json:"reason"`
	Error  string `json:"error,omitempty"`
	At     string `json:"at"`
}

func (a *API) registerVirtual(mux *http.ServeMux, p string) {
	mux.Handle("GET "+p+"/virtualservers", a.guard(func(r *http.Request) auth.Attributes {
		return auth.Attributes{Verb: api.VerbList, Namespace: r.URL.Query().Get("namespace")}
	}, a.listVirtual))
	mux.Handle("GET "+p+"/namespaces/{namespace}/virtualservers", a.guard(func(r *http.Request) auth.Attributes {
		return auth.Attributes{Verb: api.VerbList, Namespace: r.PathValue("namespace")}
	}, a.listVirtual))
	mux.Handle("GET "+p+"/namespaces/{namespace}/virtualservers/{name}", a.guard(attrs(api.VerbGet, ""), a.virtualStatus))
}

func (a *API) listVirtual(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("namespace")
	if ns == "" {
		ns = r.URL.Query().Get("namespace")
	}
	out := []VirtualServerStatus{}
	if a.Virtual != nil {
		for _, s := range a.Virtual.VirtualStatuses(ns) {
			if a.visible(s.Namespace) {
				out = append(out, s)
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) virtualStatus(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	if a.Virtual != nil && a.visible(ns) {
		if st, ok := a.Virtual.VirtualStatus(ns, name); ok {
			writeJSON(w, http.StatusOK, st)
			return
		}
	}
	writeError(w, r, http.StatusNotFound, fmt.Sprintf("no ConfigMap labelled %s=%s in namespace %s", api.VirtualServerLabel, name, ns))
}

// ListVirtual returns the virtual servers of namespace ns, or of every
// namespace the gateway serves when ns is empty.
func (c *Client) ListVirtual(ctx context.Context, ns string) ([]VirtualServerStatus, error) {
	p := "/api/v1/virtualservers"
	if ns != "" {
		p = "/api/v1/namespaces/" + url.PathEscape(ns) + "/virtualservers"
	}
	var out []VirtualServerStatus
	if err := c.do(ctx, http.MethodGet, p, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// VirtualStatus returns one virtual server's status with its members.
func (c *Client) VirtualStatus(ctx context.Context, ns, name string) (*VirtualServerStatus, error) {
	var out VirtualServerStatus
	p := "/api/v1/namespaces/" + url.PathEscape(ns) + "/virtualservers/" + url.PathEscape(name)
	if err := c.do(ctx, http.MethodGet, p, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
