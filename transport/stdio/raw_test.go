package stdio

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type rawResp struct {
	status int
	header http.Header
	body   string
}

func rawPost(t *testing.T, url, sid, version, body string, hdr ...string) rawResp {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
	}
	if version != "" {
		req.Header.Set("MCP-Protocol-Version", version)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) rawResp {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return rawResp{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func httptestRequest(accept []string) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "http://x/mcp", nil)
	for _, a := range accept {
		r.Header.Add("Accept", a)
	}
	return r
}
