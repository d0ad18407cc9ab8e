package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/pkg/environment"
	"github.com/heraldhq/herald/pkg/integration"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/ratelimit"
	"github.com/heraldhq/herald/pkg/retry"
	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/subscriber"
	"github.com/heraldhq/herald/pkg/template"
	"github.com/heraldhq/herald/pkg/topic"
	"github.com/heraldhq/herald/pkg/workflow"
)

// TaskCheckInterval is how often an idle worker looks for new tasks. A
// delivery takes two task hops (trigger, deliver), each waiting half of it
// on average when the queues are idle; 10ms costs an idle worker about 100
// small Redis calls a second.
const TaskCheckInterval = 10 * time.Millisecond

// DelayedTaskCheckInterval is how often due retries and deferred deliveries
// are moved back to the queue (asynq's default, 5 s, would delay short
// retry steps and bunch rate-limited deliveries together).
const DelayedTaskCheckInterval = 200 * time.Millisecond

// Enqueuer enqueues tasks; *asynq.Client implements it.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// WorkerDeps are what the worker needs.
type WorkerDeps struct {
	Logger       *slog.Logger
	Queue        Enqueuer
	Workflows    *workflow.Store
	Subscribers  *subscriber.Store
	Topics       *topic.Store
	Integrations *integration.Store
	Log          *Log
	Cipher       *secret.Cipher
	Templates    *template.Engine
	// Senders maps provider ids to their senders (built by the providers
	// module's registry).
	Senders map[string]notify.Sender

	// Delivery policy (all optional: nil Redis and Limiter disable the
	// sent/reconnect marks and the webhook rate limit).
	Environments *environment.Store // per-environment retry schedules
	Redis        redis.UniversalClient
	Limiter      *ratelimit.Limiter
	// RetrySchedule is the default retry schedule (nil: retry.Default).
	RetrySchedule retry.Schedule
	// WebhookRate limits messages per webhook (zero: no limit).
	WebhookRate ratelimit.Limit
	// ShutdownTimeout is how long Stop waits for in-flight tasks (0: 10s).
	ShutdownTimeout time.Duration
}

// Worker handles Herald's tasks.
type Worker struct {
	WorkerDeps
}

// NewWorker returns a Worker.
func NewWorker(d WorkerDeps) *Worker { return &Worker{WorkerDeps: d} }

// Handler returns the asynq handler routing each task type to its handler.
func (w *Worker) Handler() asynq.Handler {
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeTrigger, w.HandleTrigger)
	mux.HandleFunc(TypeDeliver, w.HandleDeliver)
	mux.HandleFunc(TypeDigest, w.HandleDigest)
	return mux
}

// ServerConfig returns the asynq server configuration for the worker.
func (w *Worker) ServerConfig(concurrency int) asynq.Config {
	shutdown := w.ShutdownTimeout
	if shutdown <= 0 {
		shutdown = 10 * time.Second
	}
	return asynq.Config{
		Concurrency:              concurrency,
		TaskCheckInterval:        TaskCheckInterval,
		DelayedTaskCheckInterval: DelayedTaskCheckInterval,
		Queues:                   map[string]int{QueueDeliver: 6, QueueTrigger: 3},
		RetryDelayFunc:           RetryDelay,
		IsFailure:                IsFailure,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			n, _ := asynq.GetRetryCount(ctx)
			lvl := w.Logger.Warn
			if !IsFailure(err) {
				lvl = w.Logger.Debug
			}
			lvl("task failed", "task_type", t.Type(), "attempt", n+1, "error", err.Error())
		}),
		Logger:          slogAdapter{w.Logger},
		LogLevel:        asynq.WarnLevel,
		ShutdownTimeout: shutdown,
	}
}

// RetryDelay is asynq's RetryDelayFunc. A delivery's handler decides its own
// delay (the environment's retry schedule step, a rate limit's wait or the
// provider's Retry-After) and returns it in the error; trigger tasks, whose
// failures are our own backends', back off exponentially from 1s.
func RetryDelay(n int, err error, t *asynq.Task) time.Duration {
	var de *DeferError
	if errors.As(err, &de) {
		return max(time.Until(de.At), 0)
	}
	var re *retryError
	if errors.As(err, &re) {
		return max(time.Until(re.at), 0)
	}
	var ne *notify.Error
	if errors.As(err, &ne) && ne.RetryAfter > 0 {
		return ne.RetryAfter
	}
	if t != nil && t.Type() == TypeDeliver {
		return retry.Default.Delay(n + 1)
	}
	if n > 10 {
		n = 10
	}
	d := time.Second << n
	if d > 10*time.Minute {
		d = 10 * time.Minute
	}
	return d + time.Duration(rand.Int64N(int64(d/4)+1))
}

// slogAdapter lets asynq log through the injected logger.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...), "component", "asynq") }
func (a slogAdapter) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "component", "asynq") }
func (a slogAdapter) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...), "component", "asynq") }
func (a slogAdapter) Error(args ...any) { a.l.Error(fmt.Sprint(args...), "component", "asynq") }
func (a slogAdapter) Fatal(args ...any) {
	a.l.Error(fmt.Sprint(args...), "component", "asynq", "fatal", true)
}

// Server runs a Worker on asynq.
type Server struct {
	srv *asynq.Server
	w   *Worker
}

// NewServer returns a server for w on Redis.
func NewServer(redis asynq.RedisConnOpt, w *Worker, concurrency int) *Server {
	return &Server{srv: asynq.NewServer(redis, w.ServerConfig(concurrency)), w: w}
}

// Start begins processing tasks. Attempt records are written behind, in
// batches (Log.StartWriteBehind).
func (s *Server) Start() error {
	if s.w.Log != nil {
		s.w.Log.StartWriteBehind(WriteBehind{Logger: s.w.Logger})
	}
	if err := s.srv.Start(s.w.Handler()); err != nil {
		if s.w.Log != nil {
			s.w.Log.StopWriteBehind()
		}
		return err
	}
	return nil
}

// Stop stops fetching new tasks and waits for active ones (up to the
// shutdown timeout); unfinished tasks go back to the queue. Queued attempt
// records are written before it returns.
func (s *Server) Stop() {
	s.srv.Shutdown()
	if s.w.Log != nil {
		s.w.Log.StopWriteBehind()
	}
}
