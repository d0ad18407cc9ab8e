package httpapi_test

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/herald/heraldtest"
)

func TestMetricsEndpoint(t *testing.T) {
	e := heraldtest.New(t)
	e.Request("POST", "/v1/events/trigger", map[string]any{"name": "no-such-workflow", "to": "u1"}).Must(t, 422)
	e.Request("POST", "/v1/events/trigger", map[string]any{"to": "u1"}).Must(t, 400)
	r := e.RequestWithKey("GET", "/metrics", nil, "").Must(t, 200)
	out := string(r.Body)
	for _, want := range []string{
		`herald_triggers_total{result="rejected",status="422"} 1`,
		`herald_triggers_total{result="rejected",status="400"} 1`,
		`herald_deliveries_total{outcome="sent",provider="slack",reason="200"} 0`,
		"go_goroutines",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(out, e.APIKey) {
		t.Fatal("metrics expose the API key")
	}
}
