package testenv

import (
	"context"
	"fmt"
	"log"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/pkg/embedded"
	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/store"
)

// InCI reports whether the tests run under CI (CI=true), where a missing
// backend is a failure rather than a skip.
func InCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v == "true" || v == "1"
}

var (
	mongoOnce sync.Once
	mongoURI  string
	mongoErr  error
	mongoDesc string
	cleanups  []func()
	cleanMu   sync.Mutex
	dbCounter atomic.Int64

	redisOnce sync.Once
	redisURL  string
	redisErr  error
	redisDesc string
)

func addCleanup(f func()) {
	cleanMu.Lock()
	defer cleanMu.Unlock()
	cleanups = append(cleanups, f)
}

// Main runs the tests and releases the shared backends afterwards. Call it
// from TestMain: func TestMain(m *testing.M) { testenv.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	cleanMu.Lock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanMu.Unlock()
	os.Exit(code)
}

// unavailable skips the test, or fails it under CI.
func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is required under CI=true but unavailable: %v", what, err)
	}
	t.Skipf("SKIPPED LOUDLY: %s unavailable (%v); start it or run under CI to make this a failure", what, err)
}

func postgresURL() string {
	if u := os.Getenv("HERALD_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

func startMongo() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	admin := postgresURL()
	conn, err := pgx.Connect(ctx, admin)
	if err == nil {
		dbName := fmt.Sprintf("herald_test_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
		_, err = conn.Exec(ctx, "CREATE DATABASE "+dbName)
		conn.Close(ctx)
		if err == nil {
			pgURL := replaceDatabase(admin, dbName)
			f, ferr := embedded.StartFerretDB(embedded.FerretDBOptions{PostgreSQLURL: pgURL})
			if ferr != nil {
				mongoErr = ferr
				return
			}
			mongoURI = f.URI()
			mongoDesc = "FerretDB on PostgreSQL database " + dbName
			addCleanup(func() {
				f.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if c, err := pgx.Connect(ctx, admin); err == nil {
					_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)")
					c.Close(ctx)
				}
			})
			log.Printf("testenv: documents: %s", mongoDesc)
			return
		}
	}
	if InCI() {
		mongoErr = fmt.Errorf("PostgreSQL not reachable at %s: %v", admin, err)
		return
	}
	dir, derr := os.MkdirTemp("", "herald-ferretdb-*")
	if derr != nil {
		mongoErr = derr
		return
	}
	f, ferr := embedded.StartFerretDB(embedded.FerretDBOptions{SQLiteDir: dir})
	if ferr != nil {
		mongoErr = ferr
		return
	}
	mongoURI = f.URI()
	mongoDesc = "FerretDB on SQLite in " + dir + " (PostgreSQL unreachable: " + err.Error() + ")"
	addCleanup(func() { f.Close(); _ = os.RemoveAll(dir) })
	log.Printf("testenv: documents: %s", mongoDesc)
}

func replaceDatabase(pgURL, db string) string {
	u, err := url.Parse(pgURL)
	if err != nil {
		return pgURL
	}
	u.Path = "/" + db
	return u.String()
}

var nonWord = regexp.MustCompile(`[^a-zA-Z0-9]+`)

// MongoURI returns the URI of the shared FerretDB, starting it on first use.
func MongoURI(t testing.TB) string {
	t.Helper()
	mongoOnce.Do(startMongo)
	if mongoErr != nil {
		unavailable(t, "the document database (FerretDB)", mongoErr)
	}
	return mongoURI
}

// DatabaseName returns a database name unique to this test.
func DatabaseName(t testing.TB) string {
	name := strings.ToLower(nonWord.ReplaceAllString(t.Name(), "_"))
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("t%d_%s", dbCounter.Add(1), strings.Trim(name, "_"))
}

// Mongo connects to a fresh database for this test, with Herald's indexes.
func Mongo(t testing.TB) *store.Store {
	t.Helper()
	uri := MongoURI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Connect(ctx, uri, DatabaseName(t))
	if err != nil {
		t.Fatalf("testenv: connect to %s: %v", mongoDesc, err)
	}
	if err := st.EnsureIndexes(ctx); err != nil {
		t.Fatalf("testenv: indexes: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = st.DB.Drop(ctx)
		_ = st.Close(ctx)
	})
	return st
}

func startRedis() {
	base := os.Getenv("REDIS_URL")
	if base == "" {
		base = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(base)
	if err != nil {
		redisErr = fmt.Errorf("REDIS_URL: %w", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c := redis.NewClient(opt)
	defer c.Close()
	if err = c.Ping(ctx).Err(); err != nil {
		if InCI() {
			redisErr = fmt.Errorf("redis not reachable at %s: %w", opt.Addr, err)
			return
		}
		mr, merr := embedded.StartRedis()
		if merr != nil {
			redisErr = merr
			return
		}
		redisURL = mr.URL()
		redisDesc = "miniredis (in-process) because Redis at " + opt.Addr + " is unreachable: " + err.Error()
		log.Printf("testenv: WARNING: queue: %s", redisDesc)
		addCleanup(mr.Close)
		return
	}
	// Claim a logical database of our own so that test binaries running in
	// parallel do not flush each other's queues.
	claimKey := ""
	db := -1
	for i := 1; i < 16; i++ {
		k := fmt.Sprintf("herald:testenv:db:%d", i)
		ok, err := c.SetNX(ctx, k, os.Getpid(), 30*time.Minute).Result()
		if err == nil && ok {
			claimKey, db = k, i
			break
		}
	}
	if db < 0 {
		redisErr = fmt.Errorf("no free Redis logical database (1-15) on %s; stale claims expire after 30 minutes (keys herald:testenv:db:*)", opt.Addr)
		return
	}
	u := fmt.Sprintf("redis://%s/%d", opt.Addr, db)
	if opt.Password != "" {
		u = fmt.Sprintf("redis://:%s@%s/%d", opt.Password, opt.Addr, db)
	}
	redisURL = u
	redisDesc = fmt.Sprintf("Redis at %s, logical database %d", opt.Addr, db)
	log.Printf("testenv: queue: %s", redisDesc)
	addCleanup(func() {
		c := redis.NewClient(opt)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		o2 := *opt
		o2.DB = db
		c2 := redis.NewClient(&o2)
		_ = c2.FlushDB(ctx).Err()
		_ = c2.Close()
		_ = c.Del(ctx, claimKey).Err()
	})
}

// RedisURL returns a redis:// URL for a logical database of this test
// binary's own, flushed before the test.
func RedisURL(t testing.TB) string {
	t.Helper()
	redisOnce.Do(startRedis)
	if redisErr != nil {
		unavailable(t, "Redis", redisErr)
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("testenv: flush Redis: %v", err)
	}
	return redisURL
}

// Cipher returns a cipher under a fresh random key, for stores that encrypt.
func Cipher(t testing.TB) *secret.Cipher {
	t.Helper()
	key, err := secret.ParseKey(secret.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	c, err := secret.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
