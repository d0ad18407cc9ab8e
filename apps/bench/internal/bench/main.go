package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"time"
)

// Main is the command: it parses flags, runs the benchmark, prints the table
// and writes the report files. It returns the exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured window of each timed phase")
	fs.IntVar(&o.Concurrency, "concurrency", 50, "HTTP clients of the trigger API phases")
	fs.IntVar(&o.Workers, "workers", 0, "worker concurrency (default: WORKER_CONCURRENCY or its default)")
	fs.Float64Var(&o.Rate, "rate", 100, "fixed trigger rate of the latency phase, per second")
	fs.IntVar(&o.E2ETriggers, "e2e-triggers", 3000, "triggers drained by the end-to-end throughput phase")
	fs.IntVar(&o.Subscribers, "subscribers", 1000, "subscribers addressed by the trigger and end-to-end phases")
	fs.IntVar(&o.Fanout, "fanout", 20000, "subscribers of the fan-out topic")
	fs.IntVar(&o.FanoutChunk, "fanout-chunk", 1000, "`to` array size when topic triggers are rejected")
	fs.DurationVar(&o.FanoutTimeout, "fanout-timeout", 120*time.Second, "give up waiting for the fan-out after this")
	scenarios := fs.String("scenarios", "trigger,e2e,fanout", "comma-separated scenarios to run (trigger, e2e, fanout); e2e includes the delivery-log writes")
	fs.BoolVar(&o.SQLite, "sqlite", false, "run FerretDB on SQLite even when PostgreSQL is reachable")
	fs.BoolVar(&o.NoPGTune, "no-pg-tune", false, "skip the GIN lookup indexes under FerretDB's PostgreSQL tables (embedded.TunePostgreSQL)")
	md := fs.String("out-md", "docs/benchmarks.md", "Markdown report to update (empty: none)")
	js := fs.String("out-json", "docs/benchmarks.json", "JSON report to write (empty: none)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memprofile := fs.String("memprofile", "", "write a heap profile at the end to this file")
	verbose := fs.Bool("v", false, "print Herald's warnings and errors")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	for _, s := range strings.Split(*scenarios, ",") {
		if s = strings.TrimSpace(s); s != "" {
			if s != ScenarioTrigger && s != ScenarioE2E && s != ScenarioFanout {
				fmt.Fprintf(stderr, "bench: unknown scenario %q\n", s)
				return 2
			}
			o.Scenarios = append(o.Scenarios, s)
		}
	}
	o.Progress = stderr
	if *verbose {
		o.HeraldLog = stderr
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := Run(ctx, o, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	if *memprofile != "" {
		if f, err := os.Create(*memprofile); err == nil {
			_ = pprof.WriteHeapProfile(f)
			_ = f.Close()
		}
	}
	fmt.Fprintf(stdout, "\n%s\n", rep.Table())
	fmt.Fprintf(stdout, "load average at start %.2f, at end %.2f (%d CPUs); documents: %s\n",
		rep.Machine.LoadAtStart[0], rep.Machine.LoadAtEnd[0], rep.Machine.CPUs, rep.Machine.Documents)
	if f := rep.Fanout; f != nil && f.ModeNote != "" {
		fmt.Fprintf(stdout, "fan-out: %s\n", f.ModeNote)
	}
	if *md != "" {
		if err := rep.WriteMarkdown(*md); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
	}
	if *js != "" {
		if err := rep.WriteJSON(*js); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
	}
	return 0
}
