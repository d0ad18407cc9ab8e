package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestSmoke runs every scenario at a tiny size and checks that each
// produced its figures, its limit and the report files.
func TestSmoke(t *testing.T) {
	o := Options{
		Duration: 300 * time.Millisecond, Concurrency: 4, Workers: 4, Rate: 50,
		E2ETriggers: 20, Subscribers: 10, Fanout: 30, FanoutChunk: 7, FanoutTimeout: 30 * time.Second,
		MongoURI: testenv.MongoURI(t), RedisURL: testenv.RedisURL(t), Database: testenv.DatabaseName(t),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	rep, err := Run(ctx, o, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if rep.Trigger == nil || rep.Trigger.Herald.OK == 0 || rep.Trigger.Bare.OK == 0 || rep.Trigger.Herald.Errors != 0 {
		t.Fatalf("trigger scenario: %+v", rep.Trigger)
	}
	if e := rep.E2E; e == nil || e.Deliveries != 20 || e.Missing != 0 || e.NoopPerSec <= 0 || e.Latency.OK == 0 || e.LatencyMissing != 0 {
		t.Fatalf("end-to-end scenario: %+v", rep.E2E)
	}
	if w := rep.Writes; w == nil || w.WritesPerDelivery <= 0 || w.WriteMsPerDelivery <= 0 || w.FloorMsPerDocument <= 0 || w.Commands["insert"].N == 0 {
		t.Fatalf("writes: %+v", rep.Writes)
	}
	if f := rep.Fanout; f == nil || f.Delivered != 30 || f.TimedOut || f.LimitDelivered != 30 || f.PeakRSSMB <= 0 || f.Mode == "" {
		t.Fatalf("fan-out scenario: %+v", rep.Fanout)
	}
	if len(rep.Figures) != 10 {
		t.Fatalf("%d figures, want 10", len(rep.Figures))
	}
	for _, f := range rep.Figures {
		if f.Value <= 0 || f.Limit <= 0 || f.Ratio <= 0 {
			t.Errorf("figure without a number: %+v", f)
		}
	}

	dir := t.TempDir()
	md := filepath.Join(dir, "benchmarks.md")
	if err := os.WriteFile(md, []byte("# Benchmarks\n\nintro\n\n"+markBegin+"\nold\n"+markEnd+"\n\n## History\nkept\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteMarkdown(md); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(md)
	doc := string(b)
	if strings.Contains(doc, "\nold\n") || !strings.Contains(doc, "## History\nkept") || !strings.Contains(doc, "| 1 trigger API | triggers/s") {
		t.Fatalf("markdown:\n%s", doc)
	}
	if err := rep.WriteJSON(filepath.Join(dir, "b.json")); err != nil {
		t.Fatal(err)
	}
	if table := rep.Table(); !strings.Contains(table, "3 fan-out") {
		t.Fatalf("table:\n%s", table)
	}
}
