package toolfilter

import (
	"bytes"
	"testing"
)

// However the stream is cut into writes, SSEWriter writes the same bytes
// as for the whole stream at once, and passes a stream with no tools list
// byte for byte.
func FuzzSSEWriter(f *testing.F) {
	f.Add([]byte("id: 1\ndata: "+listResult+"\n\n: ping\n\n"), uint8(7))
	f.Add([]byte("data: {\"jsonrpc\":\"2.0\",\r\ndata: \"id\":1,\"result\":{\"tools\":[{\"name\":\"secret\"}]}}\r\n\r\npartial"), uint8(1))
	f.Add([]byte("event: message\ndata: {\"a\":1}\n\n\n\n"), uint8(3))
	f.Fuzz(func(t *testing.T, stream []byte, cut uint8) {
		p := New([]string{"echo"})
		var whole bytes.Buffer
		w := p.NewSSEWriter(&whole)
		_, _ = w.Write(stream)
		_ = w.Close()

		var pieces bytes.Buffer
		w = p.NewSSEWriter(&pieces)
		step := int(cut)%16 + 1
		for i := 0; i < len(stream); i += step {
			_, _ = w.Write(stream[i:min(i+step, len(stream))])
		}
		_ = w.Close()
		if !bytes.Equal(whole.Bytes(), pieces.Bytes()) {
			t.Fatalf("cut every %d bytes:\n%q\nwhole:\n%q", step, pieces.Bytes(), whole.Bytes())
		}
		if !bytes.Contains(stream, []byte("tools")) && !bytes.Contains(stream, []byte(`\u`)) && !bytes.Equal(whole.Bytes(), stream) {
			t.Fatalf("a stream without a tools list changed:\n%q\n%q", whole.Bytes(), stream)
		}
	})
}
