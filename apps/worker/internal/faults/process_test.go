package faults_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/herald/heraldtest"
	"github.com/heraldhq/herald/pkg/testenv"
)

// goTool is the go command: the one on PATH, else the one under GOROOT
// (set by go test for the test binary).
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "go"
}

// buildWorker compiles apps/worker into a temporary directory.
func buildWorker(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "herald-worker")
	cmd := exec.Command(goTool(), "build", "-o", bin, "github.com/heraldhq/herald/apps/worker")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build apps/worker: %v\n%s", err, out)
	}
	return bin
}

// workerProcess is the worker binary running as a child process.
type workerProcess struct {
	cmd  *exec.Cmd
	logs *heraldtest.SyncBuffer
	done chan struct{}
}

func startWorkerProcess(t *testing.T, bin string, env map[string]string) *workerProcess {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &workerProcess{cmd: cmd, logs: &heraldtest.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.logs.String(), "worker started") {
		select {
		case <-p.done:
			t.Fatalf("worker exited at start:\n%s", p.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker did not start:\n%s", p.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *workerProcess) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// expireLeases moves the leases of the tasks a dead worker held into the
// past, standing in for the time asynq waits before recovering them: the
// lease runs 30 s after the last heartbeat, the recoverer only takes leases
// expired at least 30 s ago, and it runs when a server starts and then every
// minute. With HERALD_FAULTS_REAL_LEASE=1 the test waits for real instead.
func expireLeases(t *testing.T, e *heraldtest.Env) int {
	t.Helper()
	ctx := context.Background()
	past := time.Now().Add(-2 * time.Minute).Unix()
	n := 0
	for _, q := range []string{delivery.QueueTrigger, delivery.QueueDeliver} {
		key := "asynq:{" + q + "}:lease"
		ids, err := e.Services.Redis.ZRange(ctx, key, 0, -1).Result()
		if err != nil {
			t.Fatalf("read leases: %v", err)
		}
		for _, id := range ids {
			if err := e.Services.Redis.Do(ctx, "ZADD", key, "XX", past, id).Err(); err != nil {
				t.Fatalf("expire lease: %v", err)
			}
			n++
		}
	}
	return n
}

// TestWorkerKilledMidRun: the worker process is killed with SIGKILL while
// it delivers 500 messages, then started again; every message is delivered
// and the duplicates (messages the dead worker had sent but not recorded)
// are counted.
func TestWorkerKilledMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("slow fault test (about 30 s); runs without -short")
	}
	realLease := os.Getenv("HERALD_FAULTS_REAL_LEASE") == "1"
	bin := buildWorker(t)
	redisURL := testenv.RedisURL(t)
	const recipients, perTrigger = 500, 100
	// Each webhook answers after 150 ms, so ten workers take several
	// seconds for the 500 messages and the kill lands mid-run.
	rcv := newReceiver(t, func(string, int) reply { return reply{status: 200, delay: 150 * time.Millisecond} })
	kv := baseEnv("WORKER_CONCURRENCY", "10")
	e := newEnv(t, kv, "", "")
	setupWorkflow(t, e)

	env := map[string]string{
		"MONGODB_URI": testenv.MongoURI(t), "MONGODB_DATABASE": e.Config.MongoDatabase,
		"REDIS_URL": redisURL, "HERALD_ENCRYPTION_KEY": hex.EncodeToString(e.Config.EncryptionKey),
		"LOG_LEVEL": "info", "HERALD_SHUTDOWN_TIMEOUT": "2s",
	}
	for k, v := range kv {
		env[k] = v
	}
	w := startWorkerProcess(t, bin, env)

	var accepted []string
	for tr := 0; tr < recipients/perTrigger; tr++ {
		var to []map[string]any
		for i := 0; i < perTrigger; i++ {
			sid := fmt.Sprintf("k%03d", tr*perTrigger+i)
			to = append(to, recipient(sid, rcv.URL+"/hook/kill/"+sid))
			accepted = append(accepted, fmt.Sprintf("kill%d/%s", tr, sid))
		}
		e.Request("POST", "/v1/events/trigger", triggerBody(fmt.Sprintf("tx-kill-%d", tr), fmt.Sprintf("kill%d", tr), to...)).Must(t, 201)
	}
	start := time.Now()
	e.Eventually(60*time.Second, "150 deliveries before the kill", func() bool { return rcv.delivered() >= 150 })
	w.kill()
	killedAt := time.Now()
	atKill := rcv.delivered()
	time.Sleep(300 * time.Millisecond) // requests the dead worker had in flight finish at the receiver
	inFlight := rcv.delivered() - atKill
	leases := 0
	if !realLease {
		leases = expireLeases(t, e)
	}
	startWorkerProcess(t, bin, env)
	restartedAt := time.Now()
	timeout := 60 * time.Second
	if realLease {
		timeout = 150 * time.Second
	}
	waitDelivered(t, rcv, accepted, timeout)
	recovered, sinceRestart := time.Since(killedAt), time.Since(restartedAt)
	// Under real lease expiry the dead worker's tasks come back only after
	// the recoverer's next pass, possibly after their messages arrived.
	waitQueuesIdle(t, e, timeout)
	idle := time.Since(killedAt)
	tl := rcv.tally(accepted)
	checkWellFormed(t, rcv, accepted)
	if tl.duplicates > 10 {
		t.Fatalf("%s: more duplicates than the dead worker's ten slots could have caused", tl)
	}
	mode := "leases expired by the test"
	if realLease {
		mode = "real lease expiry"
	}
	t.Logf("FIGURES worker-kill (%s): %s delivered_before_kill=%d finished_in_flight_after_kill=%d leases_held=%d kill_to_all_delivered=%v restart_to_all_delivered=%v kill_to_queues_idle=%v total=%v",
		mode, tl, atKill, inFlight, leases, recovered.Round(100*time.Millisecond), sinceRestart.Round(100*time.Millisecond),
		idle.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
}

// client posts triggers without failing the test on transport errors: a
// fault test expects some triggers to be refused during an outage.
type client struct {
	e    *heraldtest.Env
	http *http.Client
}

func (c client) trigger(body any) (int, error) {
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", c.e.URL+"/v1/events/trigger", bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "ApiKey "+c.e.APIKey)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// load is a run of single-recipient triggers, each retried by the client
// until accepted (201); refused attempts are counted, not accepted.
type load struct {
	mu       sync.Mutex
	accepted []string
	refused  map[string]int // status (or "error") → attempts
	done     chan struct{}
}

func (l *load) acceptedIDs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.accepted...)
}

func (l *load) refusals() (int, map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, m := 0, map[string]int{}
	for k, v := range l.refused {
		n += v
		m[k] = v
	}
	return n, m
}

// runLoad sends n triggers, one every gap, in the background.
func runLoad(e *heraldtest.Env, rcv *receiver, prefix string, n int, gap time.Duration) *load {
	c := client{e: e, http: &http.Client{Timeout: 15 * time.Second}}
	l := &load{refused: map[string]int{}, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for i := 0; i < n; i++ {
			sid := fmt.Sprintf("%s%03d", prefix, i)
			body := triggerBody(fmt.Sprintf("tx-%s-%d", prefix, i), prefix, recipient(sid, rcv.URL+"/hook/"+prefix+"/"+sid))
			for attempt := 0; attempt < 200; attempt++ {
				status, err := c.trigger(body)
				// 409: an earlier attempt whose answer was lost did enqueue
				// the trigger (the transactionId is its idempotency key).
				if err == nil && (status == 201 || (status == 409 && attempt > 0)) {
					l.mu.Lock()
					l.accepted = append(l.accepted, prefix+"/"+sid)
					l.mu.Unlock()
					break
				}
				key := "error"
				if err == nil {
					key = fmt.Sprint(status)
				}
				l.mu.Lock()
				l.refused[key]++
				l.mu.Unlock()
				time.Sleep(200 * time.Millisecond)
			}
			time.Sleep(gap)
		}
	}()
	return l
}

func (l *load) waitAccepted(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for len(l.acceptedIDs()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d triggers accepted after %v", len(l.acceptedIDs()), timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
