// Command standalone runs Herald's API and worker in one process on embedded
// backends (FerretDB on SQLite under ./data, in-process Redis) unless
// MONGODB_URI and REDIS_URL point at real servers. It is what `make run` starts.
//
//	standalone           start Herald
//	standalone api-key   print the Development environment's API key
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/heraldhq/herald/apps/standalone/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(app.Run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr))
}
