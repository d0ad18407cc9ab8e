// Package app wires Herald's production API: configuration, MongoDB, Redis,
// the environment bootstrap and the HTTP server.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/herald"
)

// App is a running API process.
type App struct {
	cfg  config.Config
	log  *slog.Logger
	svcs *herald.Services
	http *herald.HTTPServer
}

// New connects to the backing services and bootstraps the Development
// environment on first start.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	if err := cfg.RequireServers(); err != nil {
		return nil, err
	}
	svcs, err := herald.Open(ctx, cfg, log, cfg.MongoURI.Reveal(), cfg.RedisURL.Reveal())
	if err != nil {
		return nil, err
	}
	env, key, created, err := svcs.Bootstrap(ctx)
	if err != nil {
		svcs.Close(ctx)
		return nil, err
	}
	if created && cfg.APIKey.Empty() {
		// Printed once, to stdout only: the key never goes to the log.
		log.Info("created environment; its API key was printed to stdout once", "environment", env.Name)
		fmt.Printf("Herald created the %q environment. API key (shown once): %s\n", env.Name, key)
	}
	return &App{cfg: cfg, log: log, svcs: svcs}, nil
}

// Start begins serving on PORT.
func (a *App) Start() error {
	srv, err := herald.Listen(fmt.Sprintf(":%d", a.cfg.Port), a.svcs.NewAPI(), a.log)
	if err != nil {
		return err
	}
	a.http = srv
	a.log.Info("api listening", "addr", srv.Addr())
	return nil
}

// Addr is the bound address.
func (a *App) Addr() string { return a.http.Addr() }

// Stop shuts the server down gracefully and closes the connections.
func (a *App) Stop(ctx context.Context) error {
	var err error
	if a.http != nil {
		err = a.http.Shutdown(ctx)
	}
	a.svcs.Close(ctx)
	return err
}

// Run is main: it loads the configuration, starts the API and stops it when
// ctx ends. It returns the process exit code.
func Run(ctx context.Context, args []string, getenv config.Getenv, stderr io.Writer) int {
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "herald api: invalid configuration:\n%v\n", err)
		return 2
	}
	log := herald.NewLogger(cfg, stderr)
	a, err := New(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "herald api: %v\n", err)
		return 1
	}
	if err := a.Start(); err != nil {
		fmt.Fprintf(stderr, "herald api: %v\n", err)
		return 1
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := a.Stop(sctx); err != nil {
		log.Error("shutdown", "error", err.Error())
		return 1
	}
	return 0
}
