// Package logline copies a child process's stderr to the container log, a
// prefix on every line. Reading never stops before EOF: a child whose
// output we stopped reading would block on its next write or die of
// SIGPIPE, so an overlong line is cut into pieces instead.
package logline

import (
	"bufio"
	"errors"
	"io"
	"sync"
)

// MaxLine is the longest piece written at once; longer lines are split.
const MaxLine = 64 * 1024

// Copy writes each line of src to dst as prefix()+line+"\n" until src ends.
// lock, when not nil, serialises writers sharing dst.
func Copy(dst io.Writer, src io.Reader, prefix func() string, lock sync.Locker) {
	r := bufio.NewReaderSize(src, MaxLine)
	for {
		line, err := r.ReadSlice('\n')
		if len(line) > 0 {
			if line[len(line)-1] == '\n' {
				line = line[:len(line)-1]
			}
			if lock != nil {
				lock.Lock()
			}
			_, _ = io.WriteString(dst, prefix()+string(line)+"\n")
			if lock != nil {
				lock.Unlock()
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return // EOF or a closed pipe
		}
	}
}
