package herald

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/environment"
	"github.com/heraldhq/herald/pkg/integration"
	"github.com/heraldhq/herald/pkg/metrics"
	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/subscriber"
	"github.com/heraldhq/herald/pkg/template"
	"github.com/heraldhq/herald/pkg/topic"
	"github.com/heraldhq/herald/pkg/workflow"
)

// NewLogger returns the JSON (or text) slog logger configured by cfg.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// Services are the connected backends and the stores built on them.
type Services struct {
	Config       config.Config
	Logger       *slog.Logger
	Store        *store.Store
	Redis        *redis.Client
	RedisOpts    *redis.Options
	Cipher       *secret.Cipher
	Environments *environment.Store
	Subscribers  *subscriber.Store
	Integrations *integration.Store
	Topics       *topic.Store
	Workflows    *workflow.Store
	Templates    *template.Engine
	Deliveries   *delivery.Log
	// Metrics are this process's Prometheus metrics.
	Metrics *metrics.Metrics
	// Inspector reads queue state (dashboard, metrics).
	Inspector *asynq.Inspector
	// Queue enqueues tasks on Redis; QueueRedis is its connection, shared
	// by the worker.
	Queue      *asynq.Client
	QueueRedis asynq.RedisClientOpt
}

// Open connects to the database (mongoURI) and Redis (redisURL), creates
// indexes and builds the stores. dbOpts are extra database client options
// (for example a command monitor).
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, mongoURI, redisURL string, dbOpts ...*options.ClientOptions) (*Services, error) {
	if len(cfg.EncryptionKey) == 0 {
		return nil, errors.New("HERALD_ENCRYPTION_KEY is required")
	}
	cipher, err := secret.NewCipher(cfg.EncryptionKey)
	if err != nil {
		return nil, err
	}
	ropts, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(ropts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("connect to Redis at %s: %w", ropts.Addr, err)
	}
	st, err := store.Connect(ctx, mongoURI, cfg.MongoDatabase, dbOpts...)
	if err != nil {
		_ = rdb.Close()
		return nil, err
	}
	if err := st.EnsureIndexes(ctx); err != nil {
		_ = rdb.Close()
		_ = st.Close(ctx)
		return nil, err
	}
	qopt := QueueRedisOpt(ropts)
	inspector := asynq.NewInspector(qopt)
	subscribers := subscriber.NewStore(st, cipher)
	subscribers.UseCache(rdb, cfg.SubscriberCacheTTL, log)
	return &Services{
		Config: cfg, Logger: log, Store: st, Redis: rdb, RedisOpts: ropts, Cipher: cipher,
		Environments: environment.NewStore(st, cipher, cfg.CacheTTL),
		Subscribers:  subscribers,
		Integrations: integration.NewStore(st, cipher, cfg.CacheTTL),
		Topics:       topic.NewStore(st),
		Workflows:    workflow.NewStore(st, cfg.CacheTTL),
		Templates:    template.NewEngine(10000),
		Deliveries:   delivery.NewLog(st),
		Inspector:    inspector,
		Metrics:      newMetrics(inspector),
		Queue:        asynq.NewClient(qopt),
		QueueRedis:   qopt,
	}, nil
}

// Ready checks that the database and Redis answer.
func (s *Services) Ready(ctx context.Context) error {
	var errs []error
	if err := s.Store.Ping(ctx); err != nil {
		errs = append(errs, fmt.Errorf("database: %w", err))
	}
	if err := s.Redis.Ping(ctx).Err(); err != nil {
		errs = append(errs, fmt.Errorf("redis: %w", err))
	}
	return errors.Join(errs...)
}

// Close releases the connections.
func (s *Services) Close(ctx context.Context) {
	_ = s.Queue.Close()
	_ = s.Inspector.Close()
	_ = s.Redis.Close()
	_ = s.Store.Close(ctx)
}

// Bootstrap makes sure the Development environment exists, created with
// cfg.APIKey when set. It logs the key once, when it creates the environment.
func (s *Services) Bootstrap(ctx context.Context) (env *environment.Environment, plainKey string, created bool, err error) {
	env, plainKey, created, err = s.Environments.Bootstrap(ctx, environment.DevelopmentName, s.Config.APIKey.Reveal())
	if err != nil {
		return nil, "", false, fmt.Errorf("bootstrap environment: %w", err)
	}
	return env, plainKey, created, nil
}

// newMetrics builds the process's metrics, with queue depth read from asynq.
func newMetrics(in *asynq.Inspector) *metrics.Metrics {
	m := metrics.New(integration.ProviderIDs()...)
	m.WatchQueues(in)
	return m
}
