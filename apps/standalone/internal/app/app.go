// Package app wires Herald's standalone process: embedded FerretDB and Redis
// when no servers are configured, the API and the worker in one process.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/heraldhq/herald/apps/standalone/internal/sink"
	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/embedded"
	"github.com/heraldhq/herald/pkg/environment"
	"github.com/heraldhq/herald/pkg/herald"
	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/providers"
)

// keyFile holds the generated encryption key inside the data directory.
const keyFile = "encryption.key"

// App is a running standalone Herald.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	svcs    *herald.Services
	http    *herald.HTTPServer
	worker  *delivery.Server
	closers []func()

	// Environment is the Development environment; APIKey is its key when this
	// start created it (empty otherwise).
	Environment *environment.Environment
	APIKey      string
	Created     bool
}

// New starts the embedded backends as needed and connects to them.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (_ *App, err error) {
	a := &App{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			a.closeBackends()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", cfg.DataDir, err)
	}
	if len(a.cfg.EncryptionKey) == 0 {
		key, err := loadOrCreateKey(filepath.Join(cfg.DataDir, keyFile))
		if err != nil {
			return nil, err
		}
		a.cfg.EncryptionKey = key
	}
	mongoURI := cfg.MongoURI.Reveal()
	if mongoURI == "" {
		dir := filepath.Join(cfg.DataDir, "ferretdb")
		f, err := embedded.StartFerretDB(embedded.FerretDBOptions{SQLiteDir: dir})
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, f.Close)
		mongoURI = f.URI()
		log.Info("documents: embedded FerretDB on SQLite", "dir", dir)
	}
	redisURL := cfg.RedisURL.Reveal()
	if redisURL == "" {
		r, err := embedded.StartRedis()
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, r.Close)
		redisURL = r.URL()
		log.Warn("queue: in-process Redis (miniredis); queued work is lost when the process stops. Set REDIS_URL for durability")
	}
	svcs, err := herald.Open(ctx, a.cfg, log, mongoURI, redisURL)
	if err != nil {
		return nil, err
	}
	a.svcs = svcs
	a.Environment, a.APIKey, a.Created, err = svcs.Bootstrap(ctx)
	if err != nil {
		svcs.Close(ctx)
		return nil, err
	}
	return a, nil
}

// loadOrCreateKey reads the encryption key file, creating it (0600) on first start.
func loadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.WriteFile(path, []byte(secret.NewKey()+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	key, err := secret.ParseKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// Start runs the delivery worker in-process and serves the API on PORT.
func (a *App) Start() error {
	a.worker = a.svcs.NewWorker(providers.New(a.cfg, a.log))
	if err := a.worker.Start(); err != nil {
		a.worker = nil
		return fmt.Errorf("start worker: %w", err)
	}
	srv, err := herald.Listen(fmt.Sprintf(":%d", a.cfg.Port), a.svcs.NewAPI(), a.log)
	if err != nil {
		return err
	}
	a.http = srv
	return nil
}

// Addr is the API's bound address.
func (a *App) Addr() string { return a.http.Addr() }

// Services exposes the connected services (for tests and subcommands).
func (a *App) Services() *herald.Services { return a.svcs }

// Stop shuts everything down.
func (a *App) Stop(ctx context.Context) error {
	var err error
	if a.http != nil {
		err = a.http.Shutdown(ctx)
	}
	if a.worker != nil {
		a.worker.Stop()
	}
	if a.svcs != nil {
		a.svcs.Close(ctx)
	}
	a.closeBackends()
	return err
}

func (a *App) closeBackends() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// Run is main. It returns the process exit code.
func Run(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) int {
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "herald: invalid configuration:\n%v\n", err)
		return 2
	}
	if getenv("LOG_FORMAT") == "" {
		cfg.LogFormat = "text"
	}
	if !cfg.PrivateTargetsSet {
		// Local development: let webhooks reach receivers on this machine.
		cfg.AllowLoopbackTargets = true
	}
	cmd := ""
	if len(args) > 1 {
		cmd = args[1]
	}
	if cmd == "api-key" && getenv("LOG_LEVEL") == "" {
		cfg.LogLevel = slog.LevelError // keep `make api-key` output to the key
	}
	log := herald.NewLogger(cfg, stderr)
	switch cmd {
	case "", "serve":
		return serve(ctx, cfg, log, stdout, stderr)
	case "api-key":
		return printAPIKey(ctx, cfg, log, stdout, stderr)
	case "webhook-sink":
		return runSink(ctx, args[2:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "herald: unknown command %q (commands: serve, api-key, webhook-sink)\n", cmd)
		return 2
	}
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger, stdout, stderr io.Writer) int {
	a, err := New(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "herald: %v\n", err)
		return 1
	}
	if err := a.Start(); err != nil {
		fmt.Fprintf(stderr, "herald: %v\n", err)
		_ = a.Stop(context.Background())
		return 1
	}
	base := fmt.Sprintf("http://localhost:%d", a.http.Port())
	fmt.Fprintf(stdout, "\nHerald is running at %s (API under %s/v1, dashboard at %s/dashboard)\n", base, base, base)
	switch {
	case a.Created && cfg.APIKey.Empty():
		fmt.Fprintf(stdout, "Created the %q environment. Its API key, shown only this once:\n\n    %s\n\n", a.Environment.Name, a.APIKey)
	case a.Created:
		fmt.Fprintf(stdout, "Created the %q environment with the API key from HERALD_API_KEY.\n", a.Environment.Name)
	default:
		fmt.Fprintf(stdout, "Environment %q. Print its API key again with: make api-key\n", a.Environment.Name)
	}
	if cfg.AllowPrivateTargets {
		fmt.Fprintln(stdout, "Outbound webhooks may reach private and loopback addresses over plain http (HERALD_ALLOW_PRIVATE_TARGETS=true): development only.")
	} else if cfg.AllowLoopbackTargets {
		fmt.Fprintln(stdout, "Outbound webhooks may reach loopback addresses (127.0.0.1, localhost) for local development; set HERALD_ALLOW_PRIVATE_TARGETS=false to refuse them.")
	}
	fmt.Fprintf(stdout, "Try: curl -H \"Authorization: ApiKey $KEY\" %s/v1/environments/me\n\n", base)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := a.Stop(sctx); err != nil {
		log.Error("shutdown", "error", err.Error())
		return 1
	}
	return 0
}

func printAPIKey(ctx context.Context, cfg config.Config, log *slog.Logger, stdout, stderr io.Writer) int {
	a, err := New(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "herald: %v\n", err)
		return 1
	}
	defer func() { _ = a.Stop(context.Background()) }()
	key, err := a.svcs.Environments.PrimaryKey(a.Environment)
	if err != nil {
		fmt.Fprintf(stderr, "herald: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, key)
	return 0
}

// runSink serves a local webhook receiver that prints what it gets.
func runSink(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("webhook-sink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:4000", "listen address")
	quiet := fs.Bool("quiet", false, "count posts without printing them")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	s := sink.New(stdout, *quiet)
	log := slog.New(slog.NewTextHandler(stderr, nil))
	srv, err := herald.Listen(*addr, s, log)
	if err != nil {
		fmt.Fprintf(stderr, "webhook-sink: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "webhook sink listening on http://%s/ (answers like a Slack incoming webhook)\n", srv.Addr())
	<-ctx.Done()
	_ = srv.Shutdown(context.Background())
	fmt.Fprintf(stdout, "webhook sink received %d posts\n", s.Received())
	return 0
}
