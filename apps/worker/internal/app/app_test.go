package app

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/herald"
	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestWorkerStartsAndStops(t *testing.T) {
	env := map[string]string{
		"MONGODB_URI":           testenv.MongoURI(t),
		"MONGODB_DATABASE":      testenv.DatabaseName(t),
		"REDIS_URL":             testenv.RedisURL(t),
		"HERALD_ENCRYPTION_KEY": secret.NewKey(),
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a, err := New(context.Background(), cfg, herald.NewLogger(cfg, &logs))
	if err != nil {
		t.Fatal(err)
	}
	a.metricsAddr = "127.0.0.1:0"
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"/metrics": "herald_deliveries_total", "/healthz": `"ok"`, "/readyz": `"ok"`} {
		resp, err := http.Get("http://" + a.MetricsAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Fatalf("%s: %d %.200s", path, resp.StatusCode, b)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestWorkerRequiresServers(t *testing.T) {
	var stderr bytes.Buffer
	if code := Run(context.Background(), nil, func(string) string { return "" }, &stderr); code != 1 || !bytes.Contains(stderr.Bytes(), []byte("MONGODB_URI is required")) {
		t.Fatalf("code %d: %s", code, stderr.String())
	}
}
