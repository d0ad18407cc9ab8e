// Command bench is Herald's load generator: it runs the real standalone
// stack in-process against real Redis and FerretDB, drives it through its
// HTTP API into a local webhook sink, measures each figure next to a limit
// taken on the same machine in the same run, prints a table and writes
// docs/benchmarks.md and docs/benchmarks.json. `make bench` runs it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/heraldhq/herald/apps/bench/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(bench.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
