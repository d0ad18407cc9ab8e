// Command worker is Herald's delivery worker: it processes trigger and
// deliver tasks from Redis (asynq) and sends messages through the providers.
// It needs MongoDB and Redis (MONGODB_URI, REDIS_URL) and
// HERALD_ENCRYPTION_KEY; see docs/configuration.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/heraldhq/herald/apps/worker/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(app.Run(ctx, os.Args, os.Getenv, os.Stderr))
}
