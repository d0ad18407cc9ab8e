package bench

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/pkg/embedded"
)

// backends are the Redis database and the document database of one run.
type backends struct {
	MongoURI string
	RedisURL string
	// PostgresURL is FerretDB's PostgreSQL database (empty on SQLite).
	PostgresURL string
	Documents   string // description for the report
	Queue       string
	closers     []func()
}

func (b *backends) Close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
	b.closers = nil
}

// startBackends claims a Redis logical database (flushed) and starts an
// in-process FerretDB on a fresh PostgreSQL database when PostgreSQL is
// reachable, else on SQLite in a temporary directory. URIs given in o are
// used as they are.
func startBackends(ctx context.Context, o Options, getenv func(string) string) (_ *backends, err error) {
	b := &backends{}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	if err := b.startRedis(ctx, o, getenv); err != nil {
		return nil, err
	}
	if err := b.startDocuments(ctx, o, getenv); err != nil {
		return nil, err
	}
	return b, nil
}

// claimPrefix is the key prefix pkg/testenv uses to hand out Redis logical
// databases; the benchmark takes part in the same scheme so that tests
// running at the same time never share its database.
const claimPrefix = "herald:testenv:db:"

func (b *backends) startRedis(ctx context.Context, o Options, getenv func(string) string) error {
	if o.RedisURL != "" {
		opt, err := redis.ParseURL(o.RedisURL)
		if err != nil {
			return fmt.Errorf("redis URL: %w", err)
		}
		if err := flushRedis(ctx, opt); err != nil {
			return err
		}
		b.RedisURL = o.RedisURL
		b.Queue = fmt.Sprintf("Redis at %s, logical database %d", opt.Addr, opt.DB)
		return nil
	}
	base := getenv("REDIS_URL")
	if base == "" {
		base = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(base)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := c.Ping(cctx).Err(); err != nil {
		return fmt.Errorf("redis at %s is not reachable (start it, as for make test): %w", opt.Addr, err)
	}
	for i := 15; i >= 1; i-- {
		key := fmt.Sprintf("%s%d", claimPrefix, i)
		ok, err := c.SetNX(cctx, key, fmt.Sprintf("bench-%d", os.Getpid()), 30*time.Minute).Result()
		if err != nil || !ok {
			continue
		}
		db := *opt
		db.DB = i
		if err := flushRedis(ctx, &db); err != nil {
			_ = c.Del(context.Background(), key).Err()
			return err
		}
		u := &url.URL{Scheme: "redis", Host: opt.Addr, Path: fmt.Sprintf("/%d", i)}
		if opt.Password != "" {
			u.User = url.UserPassword(opt.Username, opt.Password)
		}
		b.RedisURL = u.String()
		b.Queue = fmt.Sprintf("Redis at %s, logical database %d (claimed, flushed)", opt.Addr, i)
		b.closers = append(b.closers, func() {
			_ = flushRedis(context.Background(), &db)
			rc := redis.NewClient(opt)
			_ = rc.Del(context.Background(), key).Err()
			_ = rc.Close()
		})
		return nil
	}
	return fmt.Errorf("no free Redis logical database (1-15) on %s (keys %s*)", opt.Addr, claimPrefix)
}

func flushRedis(ctx context.Context, opt *redis.Options) error {
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("flush Redis database %d: %w", opt.DB, err)
	}
	return nil
}

func postgresURL(getenv func(string) string) string {
	if u := getenv("HERALD_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

func (b *backends) startDocuments(ctx context.Context, o Options, getenv func(string) string) error {
	if o.MongoURI != "" {
		b.MongoURI = o.MongoURI
		b.Documents = "given MongoDB-compatible server"
		return nil
	}
	pgErr := error(nil)
	if !o.SQLite {
		admin := postgresURL(getenv)
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(cctx, admin)
		if err == nil {
			name := fmt.Sprintf("herald_bench_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
			_, err = conn.Exec(cctx, "CREATE DATABASE "+name)
			_ = conn.Close(cctx)
			if err == nil {
				b.closers = append(b.closers, func() {
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					if c, err := pgx.Connect(ctx, admin); err == nil {
						_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
						_ = c.Close(ctx)
					}
				})
				u, perr := url.Parse(admin)
				if perr != nil {
					return fmt.Errorf("PostgreSQL URL: %w", perr)
				}
				u.Path = "/" + name
				f, ferr := embedded.StartFerretDB(embedded.FerretDBOptions{PostgreSQLURL: u.String()})
				if ferr != nil {
					return ferr
				}
				b.closers = append(b.closers, f.Close)
				b.MongoURI = f.URI()
				b.PostgresURL = u.String()
				b.Documents = "FerretDB v1.24 in-process on PostgreSQL (fresh database " + name + ")"
				return nil
			}
		}
		pgErr = err
	}
	dir, err := os.MkdirTemp("", "herald-bench-*")
	if err != nil {
		return err
	}
	b.closers = append(b.closers, func() { _ = os.RemoveAll(dir) })
	f, err := embedded.StartFerretDB(embedded.FerretDBOptions{SQLiteDir: dir})
	if err != nil {
		return err
	}
	b.closers = append(b.closers, f.Close)
	b.MongoURI = f.URI()
	b.Documents = "FerretDB v1.24 in-process on SQLite"
	if pgErr != nil {
		b.Documents += " (PostgreSQL unreachable: " + pgErr.Error() + ")"
	}
	return nil
}
