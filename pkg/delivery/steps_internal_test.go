package delivery

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/workflow"
)

func TestDelayUntil(t *testing.T) {
	at := time.Date(2030, 1, 31, 12, 0, 0, 0, time.UTC)
	regular := func(n int, unit string) workflow.Step {
		return workflow.Step{Template: workflow.Template{Type: workflow.StepTypeDelay}, Metadata: &workflow.Metadata{Amount: n, Unit: unit, Type: "regular"}}
	}
	for _, tc := range []struct {
		step workflow.Step
		want time.Time
	}{
		{regular(90, "seconds"), at.Add(90 * time.Second)},
		{regular(2, "hours"), at.Add(2 * time.Hour)},
		{regular(1, "weeks"), at.AddDate(0, 0, 7)},
		{regular(1, "months"), time.Date(2030, 3, 3, 12, 0, 0, 0, time.UTC)}, // Go normalises Feb 31
	} {
		got, raw, err := delayUntil(tc.step, at, nil)
		if err != nil || !got.Equal(tc.want) || !strings.Contains(raw, `"until"`) {
			t.Errorf("%+v: %v %s %v, want %v", tc.step.Metadata, got, raw, err, tc.want)
		}
	}

	scheduled := workflow.Step{Template: workflow.Template{Type: workflow.StepTypeDelay}, Metadata: &workflow.Metadata{Type: "scheduled", DelayPath: "when.at"}}
	payload := func(v any) map[string]any { return map[string]any{"when": map[string]any{"at": v}} }
	for in, want := range map[string]time.Time{
		"2030-02-01T10:00:00Z":      time.Date(2030, 2, 1, 10, 0, 0, 0, time.UTC),
		"2030-02-01T12:00:00+02:00": time.Date(2030, 2, 1, 10, 0, 0, 0, time.UTC),
		"2030-02-01T10:00:00.250Z":  time.Date(2030, 2, 1, 10, 0, 0, 250e6, time.UTC),
		"2030-02-01":                time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC),
		"2020-01-01T00:00:00Z":      at, // in the past: at once
	} {
		got, _, err := delayUntil(scheduled, at, payload(in))
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v, want %v", in, got, err, want)
		}
	}
	for name, p := range map[string]map[string]any{
		"missing":   {},
		"not text":  payload(12),
		"not date":  payload("soon"),
		"too far":   payload("2032-01-01T00:00:00Z"),
		"wrong map": {"when": "2030-02-01"},
	} {
		if _, _, err := delayUntil(scheduled, at, p); err == nil || !strings.Contains(err.Error(), "payload.when.at") {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

func TestBlockProblems(t *testing.T) {
	if p := blockProblems([]byte(`[{"type":"section","text":{"type":"mrkdwn","text":"ok"}}]`), nil); p != "" {
		t.Fatalf("valid blocks: %s", p)
	}
	if p := blockProblems(nil, nil); p != "" {
		t.Fatalf("no blocks: %s", p)
	}
	long := `[{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("h", 151) + `"}}]`
	if p := blockProblems([]byte(long), nil); !strings.Contains(p, "blocks[0].text.text is 151 characters; Slack allows 150") {
		t.Fatalf("long header: %q", p)
	}
	over := map[string]any{"blocks": []any{map[string]any{"type": "nope"}}}
	if p := blockProblems([]byte(`[{"type":"divider"}]`), over); !strings.Contains(p, `"nope" is not a Block Kit block type`) {
		t.Fatalf("override blocks are what Slack receives: %q", p)
	}
}
