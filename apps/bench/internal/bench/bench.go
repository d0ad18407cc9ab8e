package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/embedded"
	"github.com/heraldhq/herald/pkg/environment"
	"github.com/heraldhq/herald/pkg/herald"
	"github.com/heraldhq/herald/pkg/integration"
	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/subscriber"
	"github.com/heraldhq/herald/providers"
)

// Scenario names.
const (
	ScenarioTrigger = "trigger"
	ScenarioE2E     = "e2e"
	ScenarioFanout  = "fanout"
)

// Options are one run's settings.
type Options struct {
	// Duration is the measured window of each timed phase.
	Duration time.Duration
	// Concurrency is how many HTTP clients the trigger API phases use.
	Concurrency int
	// Workers overrides WORKER_CONCURRENCY when positive.
	Workers int
	// Rate is the fixed trigger rate of the latency phase (per second).
	Rate float64
	// E2ETriggers is how many triggers the end-to-end throughput phase drains.
	E2ETriggers int
	// Subscribers is the pool the trigger and end-to-end phases address.
	Subscribers int
	// Fanout is the topic's size; FanoutChunk the `to` array size of the
	// fallback when topic triggers are rejected.
	Fanout        int
	FanoutChunk   int
	FanoutTimeout time.Duration
	// Scenarios to run (all when empty).
	Scenarios []string
	// MongoURI and RedisURL, when set, are used as they are (tests pass
	// theirs); otherwise the benchmark starts its own backends.
	MongoURI string
	RedisURL string
	// SQLite forces FerretDB on SQLite.
	SQLite bool
	// NoPGTune skips embedded.TunePostgreSQL (to measure without it).
	NoPGTune bool
	// Database is the document database name.
	Database string
	// Progress receives progress lines; HeraldLog Herald's own logs.
	Progress  io.Writer
	HeraldLog io.Writer
}

func (o *Options) defaults() {
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 50
	}
	if o.Rate <= 0 {
		o.Rate = 100
	}
	if o.E2ETriggers <= 0 {
		o.E2ETriggers = 3000
	}
	if o.Subscribers <= 0 {
		o.Subscribers = 1000
	}
	if o.Fanout <= 0 {
		o.Fanout = 20000
	}
	if o.FanoutChunk <= 0 {
		o.FanoutChunk = 1000
	}
	if o.FanoutTimeout <= 0 {
		o.FanoutTimeout = 120 * time.Second
	}
	if o.Database == "" {
		o.Database = "herald_bench"
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.HeraldLog == nil {
		o.HeraldLog = io.Discard
	}
}

func (o *Options) wants(s string) bool {
	if len(o.Scenarios) == 0 {
		return true
	}
	for _, x := range o.Scenarios {
		if x == s {
			return true
		}
	}
	return false
}

// run is one benchmark run's state.
type run struct {
	o       Options
	cfg     config.Config
	log     *slog.Logger
	be      *backends
	svcs    *herald.Services
	mon     *dbMonitor
	api     *herald.HTTPServer
	client  *apiClient
	sink    *sink
	sinkSrv *herald.HTTPServer
	sinkURL string
	worker  *delivery.Server
	env     *environment.Environment
	integ   integration.Integration
	wfName  string
	seq     atomic.Int64
}

func (r *run) progress(format string, args ...any) {
	fmt.Fprintf(r.o.Progress, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// Run runs the benchmark and returns its report.
func Run(ctx context.Context, o Options, getenv func(string) string) (*Report, error) {
	o.defaults()
	rep := newReport(o)
	r := &run{o: o, sink: newSink(), mon: newDBMonitor()}
	defer r.close()
	if err := r.setup(ctx, getenv); err != nil {
		return nil, err
	}
	rep.Machine.Documents, rep.Machine.Queue = r.be.Documents, r.be.Queue
	rep.Settings.Workers = r.cfg.WorkerConcurrency
	rep.Machine.RSSAfterSetupMB = rssMB("VmRSS")
	if o.wants(ScenarioTrigger) {
		res, err := r.triggerScenario(ctx)
		if err != nil {
			return nil, fmt.Errorf("trigger scenario: %w", err)
		}
		rep.Trigger = res
	}
	if o.wants(ScenarioE2E) {
		res, w, err := r.e2eScenario(ctx)
		if err != nil {
			return nil, fmt.Errorf("end-to-end scenario: %w", err)
		}
		rep.E2E, rep.Writes = res, w
	}
	if o.wants(ScenarioFanout) {
		res, err := r.fanoutScenario(ctx)
		if err != nil {
			return nil, fmt.Errorf("fan-out scenario: %w", err)
		}
		rep.Fanout = res
	}
	rep.finish()
	return rep, nil
}

// close stops everything, bounded in time: after a timed-out fan-out the
// worker may still be busy, and the database the benchmark created is
// dropped by the backends' cleanup anyway.
func (r *run) close() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if r.worker != nil {
			r.worker.Stop()
		}
		if r.api != nil {
			_ = r.api.Shutdown(context.Background())
		}
		if r.sinkSrv != nil {
			_ = r.sinkSrv.Shutdown(context.Background())
		}
		if r.svcs != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			if r.o.MongoURI != "" {
				_ = r.svcs.Store.DB.Drop(ctx)
			}
			r.svcs.Close(ctx)
			cancel()
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		r.progress("cleanup: Herald did not stop within 30s; dropping the backends anyway")
	}
	if r.be != nil {
		r.be.Close()
	}
}

// benchEnv are the settings the benchmark needs unless the environment
// sets them: webhooks may reach the loopback sink, Slack's host allow-list
// includes it, and logs are quiet.
var benchEnv = map[string]string{
	"HERALD_ALLOW_PRIVATE_TARGETS": "loopback",
	"SLACK_WEBHOOK_HOSTS":          "hooks.slack.com,127.0.0.1",
	"LOG_LEVEL":                    "warn",
}

func (r *run) setup(ctx context.Context, getenv func(string) string) error {
	env := func(k string) string {
		if k == "MONGODB_URI" || k == "REDIS_URL" || k == "PORT" {
			return ""
		}
		if v := getenv(k); v != "" {
			return v
		}
		return benchEnv[k]
	}
	cfg, err := config.Load(env)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	key, _ := secret.ParseKey(secret.NewKey())
	cfg.EncryptionKey = key
	cfg.MongoDatabase = r.o.Database
	if r.o.Workers > 0 {
		cfg.WorkerConcurrency = r.o.Workers
	}
	r.cfg = cfg
	r.log = herald.NewLogger(cfg, r.o.HeraldLog)

	r.progress("starting backends")
	be, err := startBackends(ctx, r.o, getenv)
	if err != nil {
		return err
	}
	r.be = be
	r.progress("documents: %s; queue: %s", be.Documents, be.Queue)
	octx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	r.svcs, err = herald.Open(octx, cfg, r.log, be.MongoURI, be.RedisURL, options.Client().SetMonitor(r.mon.CommandMonitor()))
	if err != nil {
		return err
	}
	if be.PostgresURL != "" {
		if r.o.NoPGTune {
			r.be.Documents += "; without the GIN lookup indexes (-no-pg-tune)"
		} else {
			n, err := embedded.TunePostgreSQL(octx, be.PostgresURL, cfg.MongoDatabase)
			if err != nil {
				return err
			}
			r.be.Documents += fmt.Sprintf("; %d GIN lookup indexes (embedded.TunePostgreSQL)", n)
		}
		r.progress("documents: %s", r.be.Documents)
	}
	e, apiKey, _, err := r.svcs.Bootstrap(octx)
	if err != nil {
		return err
	}
	if apiKey == "" {
		apiKey = cfg.APIKey.Reveal()
	}
	r.env = e
	if r.api, err = herald.Listen("127.0.0.1:0", r.svcs.NewAPI(), r.log); err != nil {
		return err
	}
	if r.sinkSrv, err = herald.Listen("127.0.0.1:0", r.sink, r.log); err != nil {
		return err
	}
	r.sinkURL = "http://" + r.sinkSrv.Addr()
	r.client = newAPIClient("http://"+r.api.Addr(), apiKey, r.o.Concurrency)

	raw, err := r.client.mustPost(octx, "/v1/integrations", []byte(`{"providerId":"slack","channel":"chat","active":true,"name":"Bench Slack","identifier":"bench-slack","credentials":{}}`), http.StatusCreated)
	if err != nil {
		return err
	}
	var in struct {
		Data struct {
			ID         string `json:"_id"`
			Identifier string `json:"identifier"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return fmt.Errorf("integration answer: %w", err)
	}
	if r.integ.ID, err = primitive.ObjectIDFromHex(in.Data.ID); err != nil {
		return fmt.Errorf("integration id %q: %w", in.Data.ID, err)
	}
	r.integ.ProviderID, r.integ.Identifier = integration.ProviderSlack, in.Data.Identifier

	wf := `{"name":"Bench","identifier":"bench","active":true,"steps":[{"name":"slack","active":true,` +
		`"template":{"type":"chat","content":"` + textPrefix + `{{seq}} for {{subscriber.firstName}}"}}]}`
	if _, err := r.client.mustPost(octx, "/v1/workflows", []byte(wf), http.StatusCreated); err != nil {
		return err
	}
	r.wfName = "bench"
	r.progress("creating %d subscribers for the trigger and end-to-end phases", r.o.Subscribers)
	if _, err := r.insertSubscribers(octx, "s-", r.o.Subscribers, "/s/"); err != nil {
		return err
	}
	return nil
}

// subscriberID is the id of the i-th subscriber of a pool.
func subscriberID(prefix string, i int) string { return fmt.Sprintf("%s%06d", prefix, i) }

// insertSubscribers writes n subscribers, each with a Slack channel whose
// webhook is its own path on the sink, with InsertMany in batches (the
// credentials API would cost two database round trips per subscriber).
func (r *run) insertSubscribers(ctx context.Context, prefix string, n int, pathPrefix string) ([]primitive.ObjectID, error) {
	const batch = 1000
	now := store.Now()
	coll := r.svcs.Store.C(store.Subscribers)
	oids := make([]primitive.ObjectID, n)
	for start := 0; start < n; start += batch {
		docs := make([]any, 0, min(batch, n-start))
		for i := start; i < min(start+batch, n); i++ {
			id := subscriberID(prefix, i)
			enc, err := r.svcs.Cipher.Encrypt(r.sinkURL + pathPrefix + id)
			if err != nil {
				return nil, err
			}
			oids[i] = primitive.NewObjectID()
			docs = append(docs, subscriber.Subscriber{
				ID: oids[i], EnvironmentID: r.env.ID, OrganizationID: r.env.OrganizationID,
				SubscriberID: id, FirstName: "Sub" + id,
				Channels: []subscriber.Channel{{
					IntegrationID: r.integ.ID, ProviderID: r.integ.ProviderID, IntegrationIdentifier: r.integ.Identifier,
					Credentials: subscriber.Credentials{WebhookURL: enc}, Status: subscriber.StatusConnected, UpdatedAt: now,
				}},
				CreatedAt: now, UpdatedAt: now,
			})
		}
		if _, err := coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil {
			return nil, fmt.Errorf("insert subscribers: %w", err)
		}
	}
	return oids, nil
}

// triggerBody is a single-subscriber trigger carrying sequence number n.
func (r *run) triggerBody(n int64) []byte {
	return fmt.Appendf(nil, `{"name":%q,"to":%q,"payload":{"seq":%d}}`, r.wfName, subscriberID("s-", int(n%int64(r.o.Subscribers))), n)
}

// trigger posts one trigger and checks that it was processed.
func (r *run) trigger(ctx context.Context, n int64) error {
	st, raw, err := r.client.post(ctx, "/v1/events/trigger", r.triggerBody(n))
	if err != nil {
		return err
	}
	if st != http.StatusCreated || !strings.Contains(string(raw), `"processed"`) {
		return fmt.Errorf("status %d: %.200s", st, raw)
	}
	return nil
}

// startWorker starts Herald's delivery worker (once).
func (r *run) startWorker() error {
	if r.worker != nil {
		return nil
	}
	w := r.svcs.NewWorker(providers.New(r.cfg, r.log))
	if err := w.Start(); err != nil {
		return err
	}
	r.worker = w
	return nil
}

// noopServerConfig is the worker's asynq configuration serving only queue.
func (r *run) noopServerConfig(queue string) asynq.Config {
	w := delivery.NewWorker(delivery.WorkerDeps{Logger: r.log})
	c := w.ServerConfig(r.cfg.WorkerConcurrency)
	c.Queues = map[string]int{queue: 1}
	c.ErrorHandler = nil
	return c
}

// bareTaskOptions are the options Herald's trigger task is enqueued with, so
// that the bare endpoint does the same work in Redis.
func bareTaskOptions(queue string) []asynq.Option {
	return []asynq.Option{asynq.Queue(queue), asynq.TaskID(primitive.NewObjectID().Hex()),
		asynq.MaxRetry(delivery.TriggerMaxRetry), asynq.Retention(delivery.TriggerRetention), asynq.Timeout(5 * time.Minute)}
}

// newBareAPI is the limit of the trigger API: an echo server whose one
// route reads the body and enqueues it as one asynq task.
func (r *run) newBareAPI() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/bare", func(c echo.Context) error {
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
		defer cancel()
		if _, err := r.svcs.Queue.EnqueueContext(ctx, asynq.NewTask("bench:bare", body, bareTaskOptions("bench_bare")...)); err != nil {
			return echo.NewHTTPError(http.StatusServiceUnavailable, err.Error())
		}
		return c.JSONBlob(http.StatusCreated, []byte(`{"data":{"acknowledged":true,"status":"processed"}}`))
	})
	return e
}

// flushQueue empties the run's Redis database; only while no asynq server runs.
func (r *run) flushQueue(ctx context.Context) error {
	return r.svcs.Redis.FlushDB(ctx).Err()
}

// waitQueuesIdle waits until Herald's queues have nothing pending, active
// or scheduled.
func (r *run) waitQueuesIdle(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		busy := 0
		for _, q := range []string{delivery.QueueTrigger, delivery.QueueDeliver} {
			if info, err := r.svcs.Inspector.GetQueueInfo(q); err == nil {
				busy += info.Pending + info.Active + info.Scheduled + info.Retry
			}
		}
		if busy == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("queues still hold %d tasks after %v", busy, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitFor polls cond every 10 ms until it holds or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
