package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is one run's results.
type Report struct {
	StartedAt time.Time      `json:"startedAt"`
	Seconds   float64        `json:"seconds"`
	Machine   Machine        `json:"machine"`
	Settings  Settings       `json:"settings"`
	Figures   []Figure       `json:"figures"`
	Trigger   *TriggerResult `json:"trigger,omitempty"`
	E2E       *E2EResult     `json:"endToEnd,omitempty"`
	Fanout    *FanoutResult  `json:"fanout,omitempty"`
	Writes    *WritesResult  `json:"deliveryLogWrites,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs            int        `json:"cpus"`
	GOMAXPROCS      int        `json:"gomaxprocs"`
	CPUModel        string     `json:"cpuModel"`
	GoVersion       string     `json:"goVersion"`
	LoadAtStart     [3]float64 `json:"loadAverageAtStart"`
	LoadAtEnd       [3]float64 `json:"loadAverageAtEnd"`
	Documents       string     `json:"documents"`
	Queue           string     `json:"queue"`
	RSSAfterSetupMB float64    `json:"rssAfterSetupMb"`
}

// Settings are the run's flags.
type Settings struct {
	Duration    string  `json:"duration"`
	Concurrency int     `json:"concurrency"`
	Workers     int     `json:"workerConcurrency"`
	Rate        float64 `json:"rate"`
	E2ETriggers int     `json:"e2eTriggers"`
	Fanout      int     `json:"fanout"`
}

// Figure is one measured figure next to its limit.
type Figure struct {
	Scenario string  `json:"scenario"`
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	Limit    float64 `json:"limit"`
	LimitOf  string  `json:"limitOf"`
	// Ratio is value/limit when more is better, limit/value when less is
	// better: 1 means Herald is at the machine's limit.
	Ratio  float64 `json:"ratio"`
	Target string  `json:"target"`
	Met    *bool   `json:"met,omitempty"`
}

func newReport(o Options) *Report {
	return &Report{
		StartedAt: time.Now().UTC(),
		Machine: Machine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), CPUModel: cpuModel(),
			GoVersion: runtime.Version(), LoadAtStart: loadAvg()},
		Settings: Settings{Duration: o.Duration.String(), Concurrency: o.Concurrency, Rate: o.Rate,
			E2ETriggers: o.E2ETriggers, Fanout: o.Fanout},
	}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func met(ok bool) *bool { return &ok }

func (rep *Report) add(f Figure) { rep.Figures = append(rep.Figures, f) }

// finish derives the figures from the results.
func (rep *Report) finish() {
	rep.Machine.LoadAtEnd = loadAvg()
	rep.Seconds = time.Since(rep.StartedAt).Seconds()
	if t := rep.Trigger; t != nil {
		rep.add(Figure{Scenario: "1 trigger API", Name: "triggers/s, 50 clients", Value: t.Herald.PerSecond, Unit: "/s",
			Limit: t.Bare.PerSecond, LimitOf: "bare echo + one asynq enqueue", Ratio: ratio(t.Herald.PerSecond, t.Bare.PerSecond),
			Target: "≥ 0.8 × limit", Met: met(t.Herald.Errors == 0 && ratio(t.Herald.PerSecond, t.Bare.PerSecond) >= 0.8)})
		rep.add(Figure{Scenario: "1 trigger API", Name: "p50 latency", Value: t.Herald.P50Ms, Unit: "ms",
			Limit: t.Bare.P50Ms, LimitOf: "bare enqueue p50", Ratio: ratio(t.Bare.P50Ms, t.Herald.P50Ms)})
		rep.add(Figure{Scenario: "1 trigger API", Name: "p99 latency", Value: t.Herald.P99Ms, Unit: "ms",
			Limit: t.Bare.P99Ms, LimitOf: "bare enqueue p99", Ratio: ratio(t.Bare.P99Ms, t.Herald.P99Ms),
			Target: "< 25 ms", Met: met(t.Herald.P99Ms < 25)})
	}
	if e := rep.E2E; e != nil {
		rep.add(Figure{Scenario: "2 end-to-end", Name: "deliveries/s (trigger → sink), backlog drain", Value: e.DeliveriesPerSec, Unit: "/s",
			Limit: e.NoopPerSec, LimitOf: fmt.Sprintf("asynq no-op tasks/s at concurrency %d", e.WorkerConcurrency),
			Ratio: ratio(e.DeliveriesPerSec, e.NoopPerSec), Target: "≥ 0.5 × limit",
			Met: met(e.Missing == 0 && ratio(e.DeliveriesPerSec, e.NoopPerSec) >= 0.5)})
		rep.add(Figure{Scenario: "2 end-to-end", Name: fmt.Sprintf("p50 latency at %.0f triggers/s", e.Rate), Value: e.Latency.P50Ms, Unit: "ms",
			Limit: e.NoopLatency.P50Ms, LimitOf: "no-op task enqueue → handler p50", Ratio: ratio(e.NoopLatency.P50Ms, e.Latency.P50Ms),
			Target: "< 50 ms", Met: met(e.LatencyMissing == 0 && e.Latency.P50Ms < 50)})
		rep.add(Figure{Scenario: "2 end-to-end", Name: fmt.Sprintf("p99 latency at %.0f triggers/s", e.Rate), Value: e.Latency.P99Ms, Unit: "ms",
			Limit: e.NoopLatency.P99Ms, LimitOf: "no-op task enqueue → handler p99", Ratio: ratio(e.NoopLatency.P99Ms, e.Latency.P99Ms),
			Target: "< 200 ms", Met: met(e.LatencyMissing == 0 && e.Latency.P99Ms < 200)})
	}
	if f := rep.Fanout; f != nil {
		name := fmt.Sprintf("%d-subscriber topic: time to all delivered", f.Subscribers)
		if f.Mode != "topic" {
			name += " [" + f.Mode + "]"
		}
		rep.add(Figure{Scenario: "3 fan-out", Name: name, Value: f.Seconds, Unit: "s",
			Limit: f.LimitSeconds, LimitOf: "asynq tasks each posting to the sink, no database", Ratio: ratio(f.LimitSeconds, f.Seconds),
			Target: "< 30 s", Met: met(!f.TimedOut && f.Seconds < 30)})
		rep.add(Figure{Scenario: "3 fan-out", Name: "peak RSS (whole process: Herald, FerretDB, load generator)", Value: f.PeakRSSMB, Unit: "MB",
			Limit: f.LimitPeakRSSMB, LimitOf: "peak RSS during the limit's fan-out", Ratio: ratio(f.LimitPeakRSSMB, f.PeakRSSMB),
			Target: "< 300 MB", Met: met(f.PeakRSSMB < 300)})
	}
	if w := rep.Writes; w != nil {
		rep.add(Figure{Scenario: "4 delivery-log writes", Name: "database write time per delivery", Value: w.WriteMsPerDelivery, Unit: "ms",
			Limit: w.FloorMsPerDocument, LimitOf: fmt.Sprintf("one message document by InsertMany (batches of %d)", w.FloorBatch),
			Ratio: ratio(w.FloorMsPerDocument, w.WriteMsPerDelivery)})
		rep.add(Figure{Scenario: "4 delivery-log writes", Name: "share of worker time in database writes", Value: 100 * w.WriteShare, Unit: "%",
			Limit: 100 * w.FloorMsPerDocument / 1000 * float64(w.Deliveries) / max(w.WorkerSlotSeconds, 1e-9), LimitOf: "same share at the floor's cost",
			Ratio: ratio(w.FloorMsPerDocument, w.WriteMsPerDelivery)})
	}
}

// Table renders the figures as aligned text.
func (rep *Report) Table() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tfigure\tmeasured\tlimit (same run)\tratio\ttarget\tmet")
	for _, f := range rep.Figures {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s (%s)\t%.2f\t%s\t%s\n", f.Scenario, f.Name, num(f.Value, f.Unit), num(f.Limit, f.Unit), f.LimitOf, f.Ratio, f.Target, metText(f.Met))
	}
	_ = tw.Flush()
	return b.String()
}

func num(v float64, unit string) string {
	switch {
	case unit == "/s":
		return fmt.Sprintf("%.0f/s", v)
	case v >= 100:
		return fmt.Sprintf("%.0f %s", v, unit)
	case v >= 10:
		return fmt.Sprintf("%.1f %s", v, unit)
	default:
		return fmt.Sprintf("%.2f %s", v, unit)
	}
}

func metText(m *bool) string {
	switch {
	case m == nil:
		return ""
	case *m:
		return "yes"
	default:
		return "NO"
	}
}

// Markdown renders the run for docs/benchmarks.md.
func (rep *Report) Markdown() string {
	var b strings.Builder
	m := rep.Machine
	fmt.Fprintf(&b, "Run of %s UTC, %.0f s in all. Machine: %d CPUs (%s), GOMAXPROCS %d, %s. ",
		rep.StartedAt.Format("2006-01-02 15:04"), rep.Seconds, m.CPUs, m.CPUModel, m.GOMAXPROCS, m.GoVersion)
	fmt.Fprintf(&b, "Load average at start %.2f %.2f %.2f, at end %.2f %.2f %.2f",
		m.LoadAtStart[0], m.LoadAtStart[1], m.LoadAtStart[2], m.LoadAtEnd[0], m.LoadAtEnd[1], m.LoadAtEnd[2])
	if m.LoadAtStart[0] > 0.5*float64(m.CPUs) {
		b.WriteString(" (**the machine was busy: figures are noisy**)")
	}
	fmt.Fprintf(&b, ".\nDocuments: %s. Queue: %s.\n", m.Documents, m.Queue)
	s := rep.Settings
	fmt.Fprintf(&b, "Settings: `-duration %s -concurrency %d -workers %d -rate %.0f -e2e-triggers %d -fanout %d`.\n\n",
		s.Duration, s.Concurrency, s.Workers, s.Rate, s.E2ETriggers, s.Fanout)
	b.WriteString("| scenario | figure | measured | limit (same run) | limit is | ratio | target | met |\n|---|---|---:|---:|---|---:|---|---|\n")
	for _, f := range rep.Figures {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.2f | %s | %s |\n", f.Scenario, f.Name, num(f.Value, f.Unit), num(f.Limit, f.Unit), f.LimitOf, f.Ratio, f.Target, metText(f.Met))
	}
	b.WriteString("\nRatio: measured ÷ limit where more is better, limit ÷ measured where less is better (1.00 = at the limit).\n")
	if t := rep.Trigger; t != nil && t.Herald.Errors > 0 {
		fmt.Fprintf(&b, "\nTrigger API errors: %d (first: %s).\n", t.Herald.Errors, t.Herald.FirstErr)
	}
	if e := rep.E2E; e != nil {
		fmt.Fprintf(&b, "\nEnd-to-end: %d triggers queued with the worker stopped, then drained in %.2f s (%d missing). "+
			"At %.0f triggers/s for %.0f s: %d delivered, %d missing; trigger API at that rate p50 %.1f ms, p99 %.1f ms.\n",
			e.Deliveries+e.Missing, e.DrainSeconds, e.Missing, e.Rate, e.Latency.Seconds, e.Latency.OK, e.LatencyMissing, e.TriggerAPIAtRate.P50Ms, e.TriggerAPIAtRate.P99Ms)
		if c := e.DrainCPU; c.BusyShare > 0 {
			fmt.Fprintf(&b, "During the drain the CPUs were %.0f%% busy: this process (Herald, in-process FerretDB, sink, load generator) %.2f cores, "+
				"everything else (PostgreSQL, Redis, the rest of the machine) %.2f cores.", 100*c.BusyShare, c.ProcessCores, c.OtherCores)
		}
		if f := rep.Fanout; f != nil && f.LimitSeconds > 0 && e.NoopPerSec > 0 {
			ceil := float64(f.LimitDelivered) / f.LimitSeconds
			fmt.Fprintf(&b, " Ceiling without a database or rendering: scenario 3's limit (an asynq task that posts once to the sink) ran "+
				"%.0f/s, %.2f × the no-op limit.", ceil, ceil/e.NoopPerSec)
		}
		b.WriteString("\n")
	}
	if f := rep.Fanout; f != nil {
		fmt.Fprintf(&b, "\nFan-out: mode **%s**", f.Mode)
		if f.ModeNote != "" {
			fmt.Fprintf(&b, " — %s", f.ModeNote)
		}
		fmt.Fprintf(&b, ". %d of %d delivered (%d duplicates%s) in %.2f s; %d API request(s) taking %.0f ms. "+
			"Setup (subscribers and topic, not timed above) %.1f s. RSS before %.0f MB, peak %.0f MB, VmHWM at the end %.0f MB.\n",
			f.Delivered, f.Subscribers, f.Duplicates, map[bool]string{true: ", TIMED OUT", false: ""}[f.TimedOut], f.Seconds,
			f.APIRequests, f.APIRequestMs, f.SetupSeconds, f.BaselineRSSMB, f.PeakRSSMB, f.HighWaterMB)
	}
	if w := rep.Writes; w != nil {
		fmt.Fprintf(&b, "\nDelivery-log writes (command monitor on Herald's database client during the end-to-end drain of %d deliveries, %.2f s, "+
			"%d worker slots): writes %.2f commands and %.2f ms per delivery, reads %.2f commands and %.2f ms per delivery; "+
			"writes took %.0f%% of the worker's slot time.\n\n| command | count | per delivery | total ms | ms each |\n|---|---:|---:|---:|---:|\n",
			w.Deliveries, w.DrainSeconds, w.WorkerConcurrency, w.WritesPerDelivery, w.WriteMsPerDelivery, w.ReadsPerDelivery, w.ReadMsPerDelivery, 100*w.WriteShare)
		names := make([]string, 0, len(w.Commands))
		for k := range w.Commands {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			c := w.Commands[k]
			fmt.Fprintf(&b, "| %s | %d | %.2f | %.0f | %.2f |\n", k, c.N, float64(c.N)/float64(max(w.Deliveries, 1)), c.TotalMs, c.TotalMs/float64(max(c.N, 1)))
		}
	}
	return b.String()
}

// Markers delimit the part of docs/benchmarks.md the benchmark rewrites.
const (
	markBegin = "<!-- bench:results:begin (written by make bench) -->"
	markEnd   = "<!-- bench:results:end -->"
)

const defaultDoc = `# Benchmarks

` + "`make bench`" + ` runs Herald's standalone stack in-process against real Redis and FerretDB and
drives it through its HTTP API into a local webhook sink. Every figure is paired with a limit
measured in the same run on the same machine.

## Latest run

` + markBegin + "\n" + markEnd + "\n"

// WriteMarkdown replaces the results between the markers of path (creating
// the file when missing) and keeps the rest as it is.
func (rep *Report) WriteMarkdown(path string) error {
	old, err := os.ReadFile(path)
	doc := string(old)
	if err != nil || !strings.Contains(doc, markBegin) || !strings.Contains(doc, markEnd) {
		doc = defaultDoc
		if err == nil && len(old) > 0 {
			doc += "\n" + string(old)
		}
	}
	i := strings.Index(doc, markBegin) + len(markBegin)
	j := strings.Index(doc, markEnd)
	doc = doc[:i] + "\n" + rep.Markdown() + doc[j:]
	return os.WriteFile(path, []byte(doc), 0o644)
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func loadAvg() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err == nil {
		_, _ = fmt.Sscanf(string(b), "%f %f %f", &l[0], &l[1], &l[2])
	}
	return l
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
