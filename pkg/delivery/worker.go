package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"

	"github.com/heraldhq/herald/pkg/integration"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/subscriber"
	"github.com/heraldhq/herald/pkg/template"
	"github.com/heraldhq/herald/pkg/workflow"
)

// TaskCheckInterval is how often an idle worker looks for new tasks. A
// delivery takes two task hops (trigger, deliver), each waiting half of it
// on average when the queues are idle; 10ms costs an idle worker about 100
// small Redis calls a second.
const TaskCheckInterval = 10 * time.Millisecond

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
	Integrations *integration.Store
	Log          *Log
	Cipher       *secret.Cipher
	Templates    *template.Engine
	// Senders maps provider ids to their senders (built by the providers
	// module's registry).
	Senders map[string]notify.Sender
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
	return mux
}

// ServerConfig returns the asynq server configuration for the worker.
func (w *Worker) ServerConfig(concurrency int) asynq.Config {
	return asynq.Config{
		Concurrency:       concurrency,
		TaskCheckInterval: TaskCheckInterval,
		Queues:            map[string]int{QueueDeliver: 6, QueueTrigger: 3},
		RetryDelayFunc:    RetryDelay,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			n, _ := asynq.GetRetryCount(ctx)
			w.Logger.Warn("task failed", "task_type", t.Type(), "attempt", n+1, "error", err.Error())
		}),
		Logger:          slogAdapter{w.Logger},
		LogLevel:        asynq.WarnLevel,
		ShutdownTimeout: 10 * time.Second,
	}
}

// RetryDelay is the retry schedule: a provider's Retry-After when it gave
// one, else exponential backoff from 1s, capped at 10 minutes, with jitter.
func RetryDelay(n int, err error, _ *asynq.Task) time.Duration {
	var ne *notify.Error
	if errors.As(err, &ne) && ne.RetryAfter > 0 {
		return ne.RetryAfter
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
