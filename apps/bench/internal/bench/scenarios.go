package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/herald"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/topic"
	"github.com/heraldhq/herald/providers/slack"
)

// LoadResult summarises a load phase.
type LoadResult struct {
	PerSecond float64 `json:"perSecond"`
	P50Ms     float64 `json:"p50Ms"`
	P99Ms     float64 `json:"p99Ms"`
	OK        int     `json:"ok"`
	Errors    int     `json:"errors"`
	FirstErr  string  `json:"firstError,omitempty"`
	Seconds   float64 `json:"seconds"`
}

func summarize(l loadResult) LoadResult {
	return LoadResult{
		PerSecond: l.rate(), P50Ms: ms(percentile(l.Latencies, 50)), P99Ms: ms(percentile(l.Latencies, 99)),
		OK: l.OK, Errors: l.Errors, FirstErr: l.FirstErr, Seconds: l.Elapsed.Seconds(),
	}
}

// TriggerResult is scenario 1.
type TriggerResult struct {
	Herald LoadResult `json:"herald"`
	Bare   LoadResult `json:"bareEnqueue"`
}

// triggerRounds is how many alternating rounds scenario 1 measures.
const triggerRounds = 3

func (r *run) triggerScenario(ctx context.Context) (*TriggerResult, error) {
	warm := min(time.Second, r.o.Duration/5)
	bare, err := herald.Listen("127.0.0.1:0", r.newBareAPI(), r.log)
	if err != nil {
		return nil, err
	}
	defer func() { _ = bare.Shutdown(context.Background()) }()
	bareClient := newAPIClient("http://"+bare.Addr(), "", r.o.Concurrency)

	// The two are measured in alternating rounds, so that a drift of the
	// machine's load during the scenario weighs on both alike.
	bareLoad := func(ctx context.Context, n int64) error {
		st, raw, err := bareClient.post(ctx, "/bare", r.triggerBody(n))
		if err == nil && st != http.StatusCreated {
			err = fmt.Errorf("status %d: %.200s", st, raw)
		}
		return err
	}
	round := r.o.Duration / triggerRounds
	var limit, got loadResult
	for i := 1; i <= triggerRounds; i++ {
		r.progress("1/3 trigger API, round %d/%d: bare enqueue limit, then Herald, %d clients for %v each", i, triggerRounds, r.o.Concurrency, round)
		limit = limit.merge(closedLoop(ctx, r.o.Concurrency, warm, round, &r.seq, bareLoad))
		if err := r.flushQueue(ctx); err != nil {
			return nil, err
		}
		got = got.merge(closedLoop(ctx, r.o.Concurrency, warm, round, &r.seq, r.trigger))
		if err := r.flushQueue(ctx); err != nil {
			return nil, err
		}
	}
	res := &TriggerResult{Herald: summarize(got), Bare: summarize(limit)}
	r.progress("    Herald %.0f/s p50 %.1fms p99 %.1fms (errors %d); bare %.0f/s p50 %.1fms p99 %.1fms",
		res.Herald.PerSecond, res.Herald.P50Ms, res.Herald.P99Ms, res.Herald.Errors, res.Bare.PerSecond, res.Bare.P50Ms, res.Bare.P99Ms)
	return res, nil
}

// E2EResult is scenario 2.
type E2EResult struct {
	Deliveries        int        `json:"deliveries"`
	DeliveriesPerSec  float64    `json:"deliveriesPerSecond"`
	DrainSeconds      float64    `json:"drainSeconds"`
	Missing           int        `json:"missing"`
	NoopTasks         int        `json:"noopTasks"`
	NoopPerSec        float64    `json:"noopTasksPerSecond"`
	Rate              float64    `json:"rate"`
	Latency           LoadResult `json:"latency"` // trigger sent → sink received
	LatencyMissing    int        `json:"latencyMissing"`
	NoopLatency       LoadResult `json:"noopLatency"` // no-op enqueued → handler ran
	TriggerAPIAtRate  LoadResult `json:"triggerApiAtRate"`
	WorkerConcurrency int        `json:"workerConcurrency"`
	// DrainCPU is the CPU use during the drain.
	DrainCPU CPUUse `json:"drainCpu"`
}

// WritesResult is scenario 4 (measured during scenario 2's drain).
type WritesResult struct {
	Deliveries          int                `json:"deliveries"`
	WriteMsPerDelivery  float64            `json:"writeMsPerDelivery"`
	WritesPerDelivery   float64            `json:"writeCommandsPerDelivery"`
	ReadMsPerDelivery   float64            `json:"readMsPerDelivery"`
	ReadsPerDelivery    float64            `json:"readCommandsPerDelivery"`
	WriteShare          float64            `json:"writeShareOfWorkerTime"`
	FloorMsPerDocument  float64            `json:"floorMsPerDocument"`
	FloorBatch          int                `json:"floorBatch"`
	Commands            map[string]CmdStat `json:"commands"`
	WorkerSlotSeconds   float64            `json:"workerSlotSeconds"`
	WriteSeconds        float64            `json:"writeSeconds"`
	AllCommandsSeconds  float64            `json:"allCommandsSeconds"`
	DrainSeconds        float64            `json:"drainSeconds"`
	WorkerConcurrency   int                `json:"workerConcurrency"`
	MeasuredWithMonitor bool               `json:"measuredWithCommandMonitor"`
}

// CmdStat is one database command's count and total time.
type CmdStat struct {
	N       int64   `json:"n"`
	TotalMs float64 `json:"totalMs"`
}

func (r *run) e2eScenario(ctx context.Context) (*E2EResult, *WritesResult, error) {
	res := &E2EResult{Rate: r.o.Rate, WorkerConcurrency: r.cfg.WorkerConcurrency}
	n := r.o.E2ETriggers

	// Limit: asynq processing no-op tasks at the worker's concurrency.
	r.progress("2/3 end-to-end: no-op limit, %d tasks at concurrency %d", n, r.cfg.WorkerConcurrency)
	noopRate, err := r.noopThroughput(ctx, n)
	if err != nil {
		return nil, nil, err
	}
	res.NoopTasks, res.NoopPerSec = n, noopRate
	lat := min(r.o.Duration, 5*time.Second)
	r.progress("2/3 end-to-end: no-op pick-up latency at %.0f/s for %v", r.o.Rate, lat)
	if res.NoopLatency, err = r.noopLatency(ctx, lat); err != nil {
		return nil, nil, err
	}
	if err := r.flushQueue(ctx); err != nil {
		return nil, nil, err
	}

	// Herald: queue n triggers with the worker stopped, then drain them.
	r.progress("2/3 end-to-end: queueing %d triggers, then draining them through the worker", n)
	r.sink.reset()
	queued := countLoop(ctx, r.o.Concurrency, n, &r.seq, r.trigger)
	if queued.Errors > 0 {
		return nil, nil, fmt.Errorf("%d triggers failed: %s", queued.Errors, queued.FirstErr)
	}
	before := r.mon.snapshot()
	cpu0 := sampleCPU()
	t0 := time.Now()
	if err := r.startWorker(); err != nil {
		return nil, nil, err
	}
	waitFor(ctx, 30*time.Second+time.Duration(n)*20*time.Millisecond, func() bool { return r.sink.arrivedCount() >= n })
	drain := time.Since(t0)
	res.DrainCPU = cpuUse(cpu0, sampleCPU())
	got := r.sink.arrivedCount()
	// The attempt records may be written just after the last delivery
	// (write-behind): count them too.
	if err := r.waitQueuesIdle(ctx, 60*time.Second); err != nil {
		return nil, nil, err
	}
	waitFor(ctx, 120*time.Second, func() bool { return r.svcs.Deliveries.UnwrittenAttempts() == 0 })
	recorded := time.Since(t0)
	after := r.mon.snapshot()
	res.Deliveries, res.Missing, res.DrainSeconds = got, n-got, drain.Seconds()
	res.DeliveriesPerSec = float64(got) / drain.Seconds()
	r.progress("    %d deliveries in %.2fs = %.0f/s (no-op limit %.0f tasks/s); CPUs %.0f%% busy: this process %.2f cores, others %.2f",
		got, drain.Seconds(), res.DeliveriesPerSec, noopRate, 100*res.DrainCPU.BusyShare, res.DrainCPU.ProcessCores, res.DrainCPU.OtherCores)
	r.progress("    attempt records all written %.2fs after the drain started", recorded.Seconds())
	writes, err := r.writeCost(ctx, deltaOf(before, after), got, recorded)
	if err != nil {
		return nil, nil, err
	}

	// Latency at a fixed trigger rate.
	r.progress("2/3 end-to-end: latency at %.0f triggers/s for %v", r.o.Rate, r.o.Duration)
	r.sink.reset()
	var mu sync.Mutex
	sentAt := map[int64]time.Time{}
	api := openLoop(ctx, r.o.Rate, r.o.Duration, &r.seq, r.trigger, func(n int64, at time.Time) {
		mu.Lock()
		sentAt[n] = at
		mu.Unlock()
	})
	res.TriggerAPIAtRate = summarize(api)
	waitFor(ctx, 30*time.Second, func() bool { return r.sink.arrivedCount() >= api.OK })
	var lats []time.Duration
	for n, at := range sentAt {
		if got, ok := r.sink.arrival(n); ok {
			lats = append(lats, got.Sub(at))
		} else {
			res.LatencyMissing++
		}
	}
	res.Latency = LoadResult{PerSecond: float64(len(lats)) / r.o.Duration.Seconds(), P50Ms: ms(percentile(lats, 50)),
		P99Ms: ms(percentile(lats, 99)), OK: len(lats), Errors: api.Errors, FirstErr: api.FirstErr, Seconds: r.o.Duration.Seconds()}
	r.progress("    trigger → sink p50 %.1fms p99 %.1fms (%d delivered, %d missing); no-op pick-up p50 %.1fms p99 %.1fms",
		res.Latency.P50Ms, res.Latency.P99Ms, len(lats), res.LatencyMissing, res.NoopLatency.P50Ms, res.NoopLatency.P99Ms)
	if err := r.waitQueuesIdle(ctx, 60*time.Second); err != nil {
		return nil, nil, err
	}
	return res, writes, nil
}

// countLoop sends exactly n requests from clients goroutines.
func countLoop(ctx context.Context, clients, n int, seq *atomic.Int64, do func(ctx context.Context, n int64) error) loadResult {
	var left atomic.Int64
	left.Store(int64(n))
	var mu sync.Mutex
	var res loadResult
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && left.Add(-1) >= 0 {
				t0 := time.Now()
				err := do(ctx, seq.Add(1))
				mu.Lock()
				if err != nil {
					res.Errors++
					if res.FirstErr == "" {
						res.FirstErr = err.Error()
					}
				} else {
					res.OK++
					res.Latencies = append(res.Latencies, time.Since(t0))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}

// enqueueMany enqueues n tasks from 50 goroutines.
func (r *run) enqueueMany(ctx context.Context, n int, task func(i int) *asynq.Task) error {
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if _, err := r.svcs.Queue.EnqueueContext(ctx, task(i)); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return err
	}
	return nil
}

// noopThroughput queues n no-op tasks (with the deliver task's options),
// then times a server with the worker's configuration processing them.
func (r *run) noopThroughput(ctx context.Context, n int) (float64, error) {
	const queue = "bench_noop"
	err := r.enqueueMany(ctx, n, func(int) *asynq.Task {
		return asynq.NewTask("bench:noop", []byte(`{}`), asynq.Queue(queue), asynq.TaskID(primitive.NewObjectID().Hex()),
			asynq.MaxRetry(delivery.DeliverMaxRetry), asynq.Retention(10*time.Minute), asynq.Timeout(2*time.Minute))
	})
	if err != nil {
		return 0, err
	}
	var done atomic.Int64
	srv := asynq.NewServer(r.svcs.QueueRedis, r.noopServerConfig(queue))
	t0 := time.Now()
	if err := srv.Start(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { done.Add(1); return nil })); err != nil {
		return 0, err
	}
	waitFor(ctx, 120*time.Second, func() bool { return done.Load() >= int64(n) })
	elapsed := time.Since(t0)
	srv.Shutdown()
	return float64(done.Load()) / elapsed.Seconds(), nil
}

// noopLatency enqueues no-op tasks at the fixed rate and measures how long
// each waits until its handler runs.
func (r *run) noopLatency(ctx context.Context, d time.Duration) (LoadResult, error) {
	const queue = "bench_noop_latency"
	var mu sync.Mutex
	var lats []time.Duration
	srv := asynq.NewServer(r.svcs.QueueRedis, r.noopServerConfig(queue))
	if err := srv.Start(asynq.HandlerFunc(func(_ context.Context, t *asynq.Task) error {
		if len(t.Payload()) == 8 {
			sent := time.Unix(0, int64(binary.BigEndian.Uint64(t.Payload())))
			mu.Lock()
			lats = append(lats, time.Since(sent))
			mu.Unlock()
		}
		return nil
	})); err != nil {
		return LoadResult{}, err
	}
	defer srv.Shutdown()
	var seq atomic.Int64
	res := openLoop(ctx, r.o.Rate, d, &seq, func(ctx context.Context, _ int64) error {
		b := binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano()))
		_, err := r.svcs.Queue.EnqueueContext(ctx, asynq.NewTask("bench:noop", b, asynq.Queue(queue)))
		return err
	}, func(int64, time.Time) {})
	waitFor(ctx, 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(lats) >= res.OK })
	mu.Lock()
	defer mu.Unlock()
	return LoadResult{PerSecond: float64(len(lats)) / d.Seconds(), P50Ms: ms(percentile(lats, 50)), P99Ms: ms(percentile(lats, 99)),
		OK: len(lats), Errors: res.Errors, FirstErr: res.FirstErr, Seconds: d.Seconds()}, nil
}

// writeCost turns the database commands seen during the drain into scenario
// 4 and measures its floor: message-shaped documents written with InsertMany
// in batches of 100.
func (r *run) writeCost(ctx context.Context, d dbDelta, deliveries int, drain time.Duration) (*WritesResult, error) {
	w := &WritesResult{Deliveries: deliveries, Commands: map[string]CmdStat{}, DrainSeconds: drain.Seconds(),
		WorkerConcurrency: r.cfg.WorkerConcurrency, MeasuredWithMonitor: true}
	for k, v := range d.ByCmd {
		w.Commands[k] = CmdStat{N: v.N, TotalMs: ms(v.Total)}
	}
	if deliveries > 0 {
		w.WriteMsPerDelivery = ms(d.Writes.Total) / float64(deliveries)
		w.WritesPerDelivery = float64(d.Writes.N) / float64(deliveries)
		w.ReadMsPerDelivery = ms(d.Reads.Total) / float64(deliveries)
		w.ReadsPerDelivery = float64(d.Reads.N) / float64(deliveries)
	}
	w.WriteSeconds, w.AllCommandsSeconds = d.Writes.Total.Seconds(), d.AllButPing.Total.Seconds()
	w.WorkerSlotSeconds = drain.Seconds() * float64(r.cfg.WorkerConcurrency)
	if w.WorkerSlotSeconds > 0 {
		w.WriteShare = w.WriteSeconds / w.WorkerSlotSeconds
	}

	const batch = 100
	n := max(deliveries, batch)
	coll := r.svcs.Store.C("bench_floor")
	now := time.Now().UTC()
	t0 := time.Now()
	for start := 0; start < n; start += batch {
		docs := make([]any, 0, batch)
		for i := start; i < min(start+batch, n); i++ {
			m := delivery.Message{ID: primitive.NewObjectID(), EnvironmentID: r.env.ID, NotificationID: primitive.NewObjectID(),
				SubscriberID: subscriberID("s-", i), TransactionID: strconv.Itoa(i), Channel: "chat", ProviderID: "slack",
				Content: textPrefix + strconv.Itoa(i), Status: delivery.StatusSent, Attempts: 1, CreatedAt: now, UpdatedAt: now,
				DeliveredAt: []time.Time{now}}
			for _, t := range []string{delivery.TextStepCreated, delivery.TextStepQueued, delivery.TextStartSending,
				delivery.TextIntegrationSelected, delivery.TextMessageCreated, delivery.TextMessageSent} {
				m.ExecutionDetails = append(m.ExecutionDetails, delivery.NewDetail(t, delivery.DetailSuccess, delivery.SourceInternal, `{"statusCode":200,"body":"ok"}`, false))
			}
			docs = append(docs, m)
		}
		if _, err := coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil {
			return nil, fmt.Errorf("floor insert: %w", err)
		}
	}
	w.FloorMsPerDocument = ms(time.Since(t0)) / float64(n)
	w.FloorBatch = batch
	_ = coll.Drop(ctx)
	r.progress("4/3 delivery-log writes: %.2f ms and %.2f write commands per delivery (%.0f%% of worker time); floor %.3f ms per document",
		w.WriteMsPerDelivery, w.WritesPerDelivery, 100*w.WriteShare, w.FloorMsPerDocument)
	return w, nil
}

// FanoutResult is scenario 3.
type FanoutResult struct {
	Subscribers      int     `json:"subscribers"`
	SetupSeconds     float64 `json:"setupSeconds"`
	Mode             string  `json:"mode"` // "topic" or the fallback
	ModeNote         string  `json:"modeNote,omitempty"`
	Seconds          float64 `json:"seconds"`
	Delivered        int     `json:"delivered"`
	Duplicates       int     `json:"duplicates"`
	TimedOut         bool    `json:"timedOut"`
	PeakRSSMB        float64 `json:"peakRssMb"`
	BaselineRSSMB    float64 `json:"baselineRssMb"`
	HighWaterMB      float64 `json:"vmHwmMb"`
	LimitSeconds     float64 `json:"limitSeconds"`
	LimitDelivered   int     `json:"limitDelivered"`
	LimitPeakRSSMB   float64 `json:"limitPeakRssMb"`
	APIRequests      int     `json:"apiRequests"`
	APIRequestMs     float64 `json:"apiRequestMs"`
	WorkerConcurency int     `json:"workerConcurrency"`
}

const fanoutTopic = "bench-fanout"

func (r *run) fanoutScenario(ctx context.Context) (*FanoutResult, error) {
	f := r.o.Fanout
	res := &FanoutResult{Subscribers: f, WorkerConcurency: r.cfg.WorkerConcurrency}
	if err := r.startWorker(); err != nil {
		return nil, err
	}
	r.progress("3/3 fan-out: creating %d subscribers and the topic %s", f, fanoutTopic)
	t0 := time.Now()
	oids, err := r.insertSubscribers(ctx, "f-", f, "/f/")
	if err != nil {
		return nil, err
	}
	if err := r.fillTopic(ctx, oids); err != nil {
		return nil, err
	}
	res.SetupSeconds = time.Since(t0).Seconds()

	// Limit: asynq + one HTTP post per task to the sink, no database.
	r.progress("3/3 fan-out: limit (asynq no-op tasks that each post to the sink), %d tasks", f)
	r.sink.reset()
	res.BaselineRSSMB = rssMB("VmRSS")
	lim, err := r.bareFanout(ctx, f)
	if err != nil {
		return nil, err
	}
	res.LimitSeconds, res.LimitDelivered, res.LimitPeakRSSMB = lim.seconds, lim.delivered, lim.peakRSS
	r.progress("    limit: %d posts in %.2fs, peak RSS %.0f MB", lim.delivered, lim.seconds, lim.peakRSS)

	r.progress("3/3 fan-out: Herald, one trigger to the topic")
	r.sink.reset()
	sampler := startRSSSampler()
	t0 = time.Now()
	mode, note, reqs, reqTime, err := r.fanoutTrigger(ctx, f)
	if err != nil {
		sampler.stop()
		return nil, err
	}
	res.Mode, res.ModeNote, res.APIRequests, res.APIRequestMs = mode, note, reqs, ms(reqTime)
	done := waitFor(ctx, r.o.FanoutTimeout, func() bool { return r.sink.distinct.Load() >= int64(f) })
	res.Seconds = time.Since(t0).Seconds()
	res.PeakRSSMB = sampler.stop()
	res.Delivered, res.Duplicates, res.TimedOut = int(r.sink.distinct.Load()), int(r.sink.dups.Load()), !done
	res.HighWaterMB = rssMB("VmHWM")
	r.progress("    Herald (%s): %d of %d delivered in %.2fs, peak RSS %.0f MB (VmHWM %.0f MB)", mode, res.Delivered, f, res.Seconds, res.PeakRSSMB, res.HighWaterMB)
	return res, nil
}

// fillTopic creates the fan-out topic and inserts its memberships with
// InsertMany (the membership API upserts one statement per member, which
// FerretDB v1 answers by scanning the collection each time).
func (r *run) fillTopic(ctx context.Context, oids []primitive.ObjectID) error {
	t, err := r.svcs.Topics.Create(ctx, r.env.ID, r.env.OrganizationID, fanoutTopic, "Bench fan-out")
	if err != nil {
		return err
	}
	const batch = 1000
	now := time.Now().UTC().Truncate(time.Millisecond)
	coll := r.svcs.Store.C(store.TopicSubscribers)
	for start := 0; start < len(oids); start += batch {
		docs := make([]any, 0, batch)
		for i := start; i < min(start+batch, len(oids)); i++ {
			docs = append(docs, topic.Member{EnvironmentID: r.env.ID, OrganizationID: r.env.OrganizationID, TopicID: t.ID,
				TopicKey: t.Key, SubscriberID: subscriberID("f-", i), SubscriberOID: oids[i], CreatedAt: now})
		}
		if _, err := coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil {
			return fmt.Errorf("insert topic members: %w", err)
		}
	}
	return nil
}

// fanoutTrigger triggers the topic; when the API rejects topic recipients
// it falls back to `to` arrays of subscriber ids.
func (r *run) fanoutTrigger(ctx context.Context, f int) (mode, note string, requests int, spent time.Duration, err error) {
	body := fmt.Appendf(nil, `{"name":%q,"to":{"type":"Topic","topicKey":%q},"payload":{"seq":-1}}`, r.wfName, fanoutTopic)
	t0 := time.Now()
	st, raw, err := r.client.post(ctx, "/v1/events/trigger", body)
	spent += time.Since(t0)
	requests++
	if err != nil {
		return "", "", requests, spent, err
	}
	if st == http.StatusCreated {
		return "topic", "", requests, spent, nil
	}
	if st != http.StatusBadRequest {
		return "", "", requests, spent, fmt.Errorf("topic trigger: status %d: %.300s", st, raw)
	}
	note = fmt.Sprintf("FALLBACK: the API rejected the topic trigger (400: %.160s); sent `to` arrays of %d subscriber ids instead",
		strings.TrimSpace(string(raw)), r.o.FanoutChunk)
	chunk := r.o.FanoutChunk
	for start := 0; start < f; {
		var b bytes.Buffer
		fmt.Fprintf(&b, `{"name":%q,"payload":{"seq":-1},"to":[`, r.wfName)
		end := min(start+chunk, f)
		for i := start; i < end; i++ {
			if i > start {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q", subscriberID("f-", i))
		}
		b.WriteString("]}")
		t0 := time.Now()
		st, raw, err := r.client.post(ctx, "/v1/events/trigger", b.Bytes())
		spent += time.Since(t0)
		requests++
		if err != nil {
			return "", "", requests, spent, err
		}
		if st == http.StatusBadRequest && chunk > 1 {
			chunk /= 2 // the API takes fewer recipients per trigger
			note = fmt.Sprintf("FALLBACK: topic trigger rejected; `to` arrays of %d subscriber ids", chunk)
			continue
		}
		if st != http.StatusCreated {
			return "", "", requests, spent, fmt.Errorf("fallback trigger: status %d: %.300s", st, raw)
		}
		start = end
	}
	return fmt.Sprintf("fallback: to arrays of %d ids", chunk), note, requests, spent, nil
}

type bareFanoutResult struct {
	seconds   float64
	delivered int
	peakRSS   float64
}

// bareFanout enqueues f tasks while a server with the worker's asynq
// configuration runs them; each task posts once to its own sink path with
// the Slack provider's HTTP client settings.
func (r *run) bareFanout(ctx context.Context, f int) (bareFanoutResult, error) {
	const queue = "bench_fanout_limit"
	client := slack.NewHTTPClient(r.cfg.ProviderTimeout)
	srv := asynq.NewServer(r.svcs.QueueRedis, r.noopServerConfig(queue))
	if err := srv.Start(asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.sinkURL+"/l/"+string(t.Payload()), strings.NewReader(`{"text":"bench #-1"}`))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		return nil
	})); err != nil {
		return bareFanoutResult{}, err
	}
	defer srv.Shutdown()
	sampler := startRSSSampler()
	t0 := time.Now()
	err := r.enqueueMany(ctx, f, func(i int) *asynq.Task {
		return asynq.NewTask("bench:post", []byte(strconv.Itoa(i)), asynq.Queue(queue), asynq.TaskID("l"+strconv.Itoa(i)),
			asynq.MaxRetry(delivery.DeliverMaxRetry), asynq.Retention(10*time.Minute), asynq.Timeout(2*time.Minute))
	})
	if err != nil {
		sampler.stop()
		return bareFanoutResult{}, err
	}
	waitFor(ctx, r.o.FanoutTimeout, func() bool { return r.sink.distinct.Load() >= int64(f) })
	return bareFanoutResult{seconds: time.Since(t0).Seconds(), delivered: int(r.sink.distinct.Load()), peakRSS: sampler.stop()}, nil
}

// rssMB reads a VmRSS/VmHWM line of /proc/self/status in MB (0 when unavailable).
func rssMB(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			parts := strings.Fields(rest)
			if len(parts) > 0 {
				kb, _ := strconv.ParseFloat(parts[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// rssSampler samples VmRSS every 50 ms and keeps the peak.
type rssSampler struct {
	stopc chan struct{}
	done  chan float64
}

func startRSSSampler() *rssSampler {
	s := &rssSampler{stopc: make(chan struct{}), done: make(chan float64, 1)}
	go func() {
		peak := rssMB("VmRSS")
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stopc:
				s.done <- max(peak, rssMB("VmRSS"))
				return
			case <-t.C:
				peak = max(peak, rssMB("VmRSS"))
			}
		}
	}()
	return s
}

func (s *rssSampler) stop() float64 {
	close(s.stopc)
	return <-s.done
}
