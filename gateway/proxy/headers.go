package proxy

import (
	"net"
	"net/http"
	"net/textproto"
	"strings"
)

// hopHeaders describe one connection, not the message (RFC 9110 section
// 7.6.1, and Keep-Alive/Proxy-Connection from older practice): a proxy
// never forwards them, in either direction. Trailer is here because the
// proxy does not forward trailers.
var hopHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// copyHeaders copies src into dst without the hop-by-hop headers (the fixed
// ones and every one src's Connection header names) and without drop.
func copyHeaders(dst, src http.Header, drop []string) {
	// One backing array for every value: a copy of each slice (so that
	// dst can change without changing src) for one allocation. The capacity
	// of each is its length, so an append to one cannot run into the next.
	n := 0
	for _, vs := range src {
		n += len(vs)
	}
	all := make([]string, 0, n)
	for k, vs := range src {
		start := len(all)
		all = append(all, vs...)
		dst[k] = all[start:len(all):len(all)]
	}
	// The names in Connection are read from src: dst's Connection goes below.
	for _, v := range src.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = textproto.TrimString(name); name != "" {
				dst.Del(name)
			}
		}
	}
	for _, k := range hopHeaders {
		dst.Del(k)
	}
	for _, k := range drop {
		dst.Del(k)
	}
}

// setForwarded tells the pod who asked, as a reverse proxy does: the
// client's address appended to X-Forwarded-For (earlier proxies' entries
// kept, so the last one is the one this gateway saw), and the scheme and
// host the client used. Proto and Host are set, not appended: a client
// could otherwise claim https over plain http.
func setForwarded(out http.Header, r *http.Request) {
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := out.Values("X-Forwarded-For"); len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		out.Set("X-Forwarded-For", ip)
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	out.Set("X-Forwarded-Proto", proto)
	out.Set("X-Forwarded-Host", r.Host)
}
