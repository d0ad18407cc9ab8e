package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/pkg/notify"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestSeriesArePreCreatedAndCounted(t *testing.T) {
	m := New("slack")
	out := scrape(t, m)
	for _, want := range []string{
		`herald_deliveries_total{outcome="permanent",provider="slack",reason=""} 0`,
		`herald_triggers_total{result="accepted",status="201"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("missing %s in\n%s", want, out)
		}
	}
	ok := notify.SenderFunc(func(context.Context, notify.Message) (notify.Result, error) {
		return notify.Result{StatusCode: 200}, nil
	})
	gone := notify.SenderFunc(func(context.Context, notify.Message) (notify.Result, error) {
		return notify.Result{}, &notify.Error{Kind: notify.Permanent, StatusCode: 404, Body: "no_service"}
	})
	_, _ = m.InstrumentSender("slack", ok).Send(context.Background(), notify.Message{TriggeredAt: time.Now().Add(-30 * time.Millisecond)})
	_, _ = m.InstrumentSender("slack", gone).Send(context.Background(), notify.Message{})
	_, _ = m.InstrumentSender("slack", notify.SenderFunc(func(context.Context, notify.Message) (notify.Result, error) {
		return notify.Result{}, errors.New("connection refused")
	})).Send(context.Background(), notify.Message{})
	out = scrape(t, m)
	for _, want := range []string{
		`herald_deliveries_total{outcome="sent",provider="slack",reason="200"} 1`,
		`herald_deliveries_total{outcome="permanent",provider="slack",reason="404"} 1`,
		`herald_delivery_latency_seconds_count{provider="slack"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("missing %s in\n%s", want, out)
		}
	}
}

func TestCountTriggers(t *testing.T) {
	m := New()
	e := echo.New()
	e.Use(m.CountTriggers)
	e.POST("/v1/events/trigger", func(c echo.Context) error {
		if c.QueryParam("bad") != "" {
			return echo.NewHTTPError(http.StatusUnprocessableEntity, "nope")
		}
		return c.NoContent(http.StatusCreated)
	})
	for _, q := range []string{"", "", "?bad=1"} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/events/trigger"+q, nil))
	}
	out := scrape(t, m)
	if !strings.Contains(out, `herald_triggers_total{result="accepted",status="201"} 2`) ||
		!strings.Contains(out, `herald_triggers_total{result="rejected",status="422"} 1`) {
		t.Fatalf("%s", out)
	}
}
