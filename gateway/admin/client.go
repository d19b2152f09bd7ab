package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Client calls the operators' API of a gateway; mcpctl is its user.
type Client struct {
	// BaseURL is the gateway's address, e.g. https://mcp.example.com.
	BaseURL string
	// Token is sent as a bearer token when set. It never appears in errors.
	Token string
	HTTP  *http.Client
}

// APIError is a non-2xx answer of the API.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// LogOptions are the query parameters of the logs endpoint.
type LogOptions struct {
	Pod, Container               string
	Previous, Follow, Timestamps bool
	// TailLines < 0 means all lines.
	TailLines int64
}

// List returns the servers of namespace ns, or of every namespace the
// gateway serves when ns is empty.
func (c *Client) List(ctx context.Context, ns string) ([]ServerSummary, error) {
	p := "/api/v1/servers"
	if ns != "" {
		p = "/api/v1/namespaces/" + url.PathEscape(ns) + "/servers"
	}
	var out []ServerSummary
	if err := c.do(ctx, http.MethodGet, p, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Status returns one server's status with its pods.
func (c *Client) Status(ctx context.Context, ns, name string) (*ServerStatus, error) {
	var out ServerStatus
	if err := c.do(ctx, http.MethodGet, serverPath(ns, name), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Restart asks for a rollout restart of the server's Deployment.
func (c *Client) Restart(ctx context.Context, ns, name string) (*RestartResult, error) {
	var out RestartResult
	if err := c.do(ctx, http.MethodPost, serverPath(ns, name)+"/restart", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Wake asks for a hibernated server to be scaled back up; it returns once
// the wake is under way.
func (c *Client) Wake(ctx context.Context, ns, name string) (*HibernationResult, error) {
	var out HibernationResult
	if err := c.do(ctx, http.MethodPost, serverPath(ns, name)+"/wake", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Hibernate asks for a server to be scaled to zero now, until its next
// request (or Wake).
func (c *Client) Hibernate(ctx context.Context, ns, name string) (*HibernationResult, error) {
	var out HibernationResult
	if err := c.do(ctx, http.MethodPost, serverPath(ns, name)+"/hibernate", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Logs copies a container's log to w until it ends, or until ctx ends
// when following.
func (c *Client) Logs(ctx context.Context, ns, name string, o LogOptions, w io.Writer) error {
	q := url.Values{}
	for k, v := range map[string]string{"pod": o.Pod, "container": o.Container} {
		if v != "" {
			q.Set(k, v)
		}
	}
	for k, v := range map[string]bool{"previous": o.Previous, "follow": o.Follow, "timestamps": o.Timestamps} {
		if v {
			q.Set(k, "true")
		}
	}
	if o.TailLines >= 0 {
		q.Set("tailLines", strconv.FormatInt(o.TailLines, 10))
	}
	resp, err := c.send(ctx, http.MethodGet, serverPath(ns, name)+"/logs", q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil && ctx.Err() == nil {
		return fmt.Errorf("reading logs: %w", err)
	}
	return nil
}

func serverPath(ns, name string) string {
	return "/api/v1/namespaces/" + url.PathEscape(ns) + "/servers/" + url.PathEscape(name)
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, out any) error {
	resp, err := c.send(ctx, method, path, q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// send returns a 2xx response, or an error that carries the API's message.
func (c *Client) send(ctx context.Context, method, path string, q url.Values) (*http.Response, error) {
	u, err := url.Parse(strings.TrimSuffix(c.BaseURL, "/") + path)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("gateway address %q: want http(s)://host[:port]", c.BaseURL)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &APIError{Status: resp.StatusCode}
	var m struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &m) == nil && m.Error != "" {
		e.Message = m.Error
	} else {
		// Not our API (a proxy's HTML page, say): a short, printable excerpt.
		e.Message = strings.TrimSpace(strings.ToValidUTF8(string(body[:min(len(body), 200)]), "?"))
	}
	return nil, e
}

// IsNotFound reports whether err is the API's 404.
func IsNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}
