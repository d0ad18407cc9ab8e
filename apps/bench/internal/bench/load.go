package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// apiClient posts JSON over kept-alive connections.
type apiClient struct {
	http *http.Client
	base string
	auth string
}

func newAPIClient(base, apiKey string, conns int) *apiClient {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     90 * time.Second,
	}
	c := &apiClient{http: &http.Client{Timeout: 60 * time.Second, Transport: tr}, base: base}
	if apiKey != "" {
		c.auth = "ApiKey " + apiKey
	}
	return c
}

// post sends body and returns the status and the answer.
func (c *apiClient) post(ctx context.Context, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// mustPost fails unless the answer has the wanted status.
func (c *apiClient) mustPost(ctx context.Context, path string, body []byte, want int) ([]byte, error) {
	st, raw, err := c.post(ctx, path, body)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", path, err)
	}
	if st != want {
		return raw, fmt.Errorf("POST %s: status %d, want %d: %s", path, st, want, raw)
	}
	return raw, nil
}

// loadResult is what a load phase measured.
type loadResult struct {
	OK        int
	Errors    int
	FirstErr  string
	Elapsed   time.Duration
	Latencies []time.Duration
}

// merge adds another measured window of the same load to r.
func (r loadResult) merge(o loadResult) loadResult {
	if r.FirstErr == "" {
		r.FirstErr = o.FirstErr
	}
	r.OK += o.OK
	r.Errors += o.Errors
	r.Elapsed += o.Elapsed
	r.Latencies = append(r.Latencies, o.Latencies...)
	return r
}

func (r loadResult) rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// closedLoop runs clients goroutines, each sending its next request as soon
// as the previous one answered, for d (after a warm-up that is not counted).
// do gets a run-wide sequence number and reports success.
func closedLoop(ctx context.Context, clients int, warmup, d time.Duration, seq *atomic.Int64, do func(ctx context.Context, n int64) error) loadResult {
	var (
		mu       sync.Mutex
		res      loadResult
		wg       sync.WaitGroup
		measured atomic.Bool
	)
	start := time.Now()
	measureAt := start.Add(warmup)
	end := measureAt.Add(d)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lats []time.Duration
			ok, bad, first := 0, 0, ""
			for ctx.Err() == nil {
				t0 := time.Now()
				if t0.After(end) {
					break
				}
				err := do(ctx, seq.Add(1))
				if t0.Before(measureAt) {
					continue
				}
				measured.Store(true)
				if err != nil {
					bad++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				ok++
				lats = append(lats, time.Since(t0))
			}
			mu.Lock()
			res.OK += ok
			res.Errors += bad
			if res.FirstErr == "" {
				res.FirstErr = first
			}
			res.Latencies = append(res.Latencies, lats...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	// Requests started before the end are counted: the window runs until
	// the last one answered.
	res.Elapsed = time.Since(measureAt)
	return res
}

// openLoop starts one request every 1/rate seconds for d, whether or not
// earlier ones answered, and waits for them. sent receives the sequence
// number and when it was sent.
func openLoop(ctx context.Context, rate float64, d time.Duration, seq *atomic.Int64, do func(ctx context.Context, n int64) error, sent func(n int64, at time.Time)) loadResult {
	var (
		mu  sync.Mutex
		res loadResult
		wg  sync.WaitGroup
	)
	interval := time.Duration(float64(time.Second) / rate)
	total := int(d.Seconds() * rate)
	start := time.Now()
	for i := 0; i < total && ctx.Err() == nil; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		n := seq.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			sent(n, t0)
			err := do(ctx, n)
			lat := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Errors++
				if res.FirstErr == "" {
					res.FirstErr = err.Error()
				}
				return
			}
			res.OK++
			res.Latencies = append(res.Latencies, lat)
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}

// percentile returns the p-th percentile (0..100) of ds, sorting it.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	i := int(float64(len(ds)-1) * p / 100)
	return ds[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
