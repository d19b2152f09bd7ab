package server

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
)

// MaxProcsFlag registers --max-procs on fs with the binary's default: how
// many threads may run its Go code at once (GOMAXPROCS); 0 keeps the Go
// runtime's choice (the CPUs of the node, or of the container's CPU
// limit).
func MaxProcsFlag(fs *flag.FlagSet, def int, why string) *int {
	return fs.Int("max-procs", def, "threads running Go code at once (GOMAXPROCS); 0: one per CPU of the node or of the CPU limit. "+why+" GOMAXPROCS in the environment wins")
}

// SetMaxProcs applies --max-procs and returns what is in effect. A
// GOMAXPROCS variable in the environment is the operator's explicit choice
// and stays.
func SetMaxProcs(n int, log *slog.Logger) (int, error) {
	if n < 0 {
		return 0, fmt.Errorf("--max-procs must not be negative, not %d", n)
	}
	if n > 0 && os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(n)
	}
	procs := runtime.GOMAXPROCS(0)
	log.Info("threads for Go code", "maxProcs", procs)
	return procs, nil
}
