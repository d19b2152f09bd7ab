// Command pause is the pod sandbox image's process for the end-to-end
// cluster (hack/cluster): it holds the pod's namespaces and does nothing
// until SIGTERM or SIGINT. A static Go binary, so the image needs no libc.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
