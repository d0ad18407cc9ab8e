package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// FerretDBOptions chooses the FerretDB backend.
type FerretDBOptions struct {
	// SQLiteDir is a directory for SQLite files; used when PostgreSQLURL is empty.
	SQLiteDir string
	// PostgreSQLURL selects the PostgreSQL backend.
	PostgreSQLURL string
	// Logger receives FerretDB's own logs; nil discards them. FerretDB logs
	// every failed query at ERROR, including unique-index violations that
	// Herald expects and handles, so its output is noise by default.
	Logger *slog.Logger
}

// FerretDB is a running in-process FerretDB listening on a loopback port.
type FerretDB struct {
	uri    string
	cancel context.CancelFunc
	done   chan error
}

// StartFerretDB starts FerretDB on 127.0.0.1 with a free port.
func StartFerretDB(opts FerretDBOptions) (*FerretDB, error) {
	cfg := &ferretdb.Config{Listener: ferretdb.ListenerConfig{TCP: "127.0.0.1:0"}}
	if opts.PostgreSQLURL != "" {
		cfg.Handler = "postgresql"
		cfg.PostgreSQLURL = opts.PostgreSQLURL
	} else {
		if opts.SQLiteDir == "" {
			return nil, errors.New("embedded: FerretDB needs SQLiteDir or PostgreSQLURL")
		}
		dir, err := filepath.Abs(opts.SQLiteDir)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("embedded: create %s: %w", dir, err)
		}
		cfg.Handler = "sqlite"
		cfg.SQLiteURL = "file:" + dir + "/"
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = logger
	f, err := ferretdb.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("embedded: start FerretDB (%s): %w", cfg.Handler, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	return &FerretDB{uri: f.MongoDBURI(), cancel: cancel, done: done}, nil
}

// URI is the mongodb:// URI clients connect to.
func (f *FerretDB) URI() string { return f.uri }

// Close stops FerretDB and waits for it (at most 10 s).
func (f *FerretDB) Close() {
	f.cancel()
	select {
	case <-f.done:
	case <-time.After(10 * time.Second):
	}
}
