// Package app wires Herald's production worker: configuration, MongoDB,
// Redis, the providers' senders and the asynq server.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/herald"
	"github.com/heraldhq/herald/providers"
)

// App is a running worker process.
type App struct {
	cfg  config.Config
	log  *slog.Logger
	svcs *herald.Services
	// metricsAddr overrides METRICS_PORT (tests listen on 127.0.0.1:0).
	metricsAddr string
	worker      *delivery.Server
	http        *herald.HTTPServer
}

// New connects to the backing services.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	if err := cfg.RequireServers(); err != nil {
		return nil, err
	}
	svcs, err := herald.Open(ctx, cfg, log, cfg.MongoURI.Reveal(), cfg.RedisURL.Reveal())
	if err != nil {
		return nil, err
	}
	return &App{cfg: cfg, log: log, svcs: svcs}, nil
}

// Start begins processing tasks.
func (a *App) Start() error {
	a.worker = a.svcs.NewWorker(providers.New(a.cfg, a.log))
	if err := a.worker.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	a.log.Info("worker started", "concurrency", a.cfg.WorkerConcurrency)
	if a.cfg.MetricsPort > 0 || a.metricsAddr != "" {
		addr := a.metricsAddr
		if addr == "" {
			addr = fmt.Sprintf(":%d", a.cfg.MetricsPort)
		}
		srv, err := herald.Listen(addr, a.opsHandler(), a.log)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		a.http = srv
		a.log.Info("worker metrics listening", "addr", srv.Addr())
	}
	return nil
}

// Stop stops taking tasks, waits for active ones (unfinished ones return to
// the queue) and closes the connections.
func (a *App) Stop(ctx context.Context) error {
	if a.http != nil {
		_ = a.http.Shutdown(ctx)
	}
	if a.worker != nil {
		a.worker.Stop()
	}
	a.svcs.Close(ctx)
	return nil
}

// Run is main: it loads the configuration, starts the worker and stops it
// when ctx ends. It returns the process exit code.
func Run(ctx context.Context, args []string, getenv config.Getenv, stderr io.Writer) int {
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "herald worker: invalid configuration:\n%v\n", err)
		return 2
	}
	log := herald.NewLogger(cfg, stderr)
	a, err := New(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "herald worker: %v\n", err)
		return 1
	}
	if err := a.Start(); err != nil {
		fmt.Fprintf(stderr, "herald worker: %v\n", err)
		_ = a.Stop(context.Background())
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

// opsHandler serves the worker's /metrics, /healthz and /readyz.
func (a *App) opsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.svcs.Metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		if err := a.svcs.Ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, `{"status":"unavailable"}`)
			return
		}
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	return mux
}

// MetricsAddr is the bound address of the ops listener ("" when disabled).
func (a *App) MetricsAddr() string {
	if a.http == nil {
		return ""
	}
	return a.http.Addr()
}
