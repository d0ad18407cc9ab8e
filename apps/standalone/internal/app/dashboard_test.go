package app

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/heraldhq/herald/pkg/herald/heraldtest"
	"github.com/heraldhq/herald/pkg/testenv"
	"github.com/heraldhq/herald/providers"
)

// chromium returns the browser binary, skipping (failing under CI) without one.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if testenv.InCI() {
		t.Fatal("Chromium is required under CI (apt-get install chromium)")
	}
	t.Skip("SKIPPED LOUDLY: no Chromium on PATH (apt-get install chromium)")
	return ""
}

// artifactsDir is where UI tests leave screenshots: ./artifacts at the repository root.
func artifactsDir(t *testing.T) string {
	dir, _ := filepath.Abs(filepath.Join("..", "..", "..", "..", "artifacts", "dashboard"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDashboardInBrowser drives the real dashboard with headless Chromium:
// sign-in (wrong key refused), a sent and a failed delivery in the feed, the
// status filter, the failed notification's provider answer, Retry, and the
// new attempt.
func TestDashboardInBrowser(t *testing.T) {
	browser := chromium(t)
	e := heraldtest.New(t, heraldtest.WithEnv(map[string]string{"HERALD_ALLOW_PRIVATE_TARGETS": "true"}))
	e.StartWorker(providers.New(e.Config, e.Services.Logger))

	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer good.Close()
	var badCalls atomic.Int32
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if badCalls.Add(1) == 1 {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, "invalid_payload")
			return
		}
		io.WriteString(w, "ok")
	}))
	defer bad.Close()

	e.Request("POST", "/v1/integrations", map[string]any{"providerId": "slack", "identifier": "slack", "active": true}).Must(t, 201)
	for id, hook := range map[string]string{"ada": good.URL, "bob": bad.URL} {
		e.Request("POST", "/v1/subscribers", map[string]any{"subscriberId": id, "firstName": strings.ToUpper(id[:1]) + id[1:]}).Must(t, 201)
		e.Request("PUT", "/v1/subscribers/"+id+"/credentials", map[string]any{
			"providerId": "slack", "credentials": map[string]any{"webhookUrl": hook + "/services/T000/B000/secret-token-" + id},
		}).Must(t, 200)
	}
	e.Request("POST", "/v1/workflows", map[string]any{"name": "Deploy finished", "steps": []any{
		map[string]any{"name": "slack", "template": map[string]any{"type": "chat", "content": "Deploy {{version}} finished, {{subscriber.firstName}}"}},
	}}).Must(t, 201)
	e.Request("POST", "/v1/events/trigger", map[string]any{"name": "deploy-finished", "to": []string{"ada", "bob"},
		"payload": map[string]any{"version": "v1.2.3"}, "transactionId": "tx-dashboard-1"}).Must(t, 201)
	e.Eventually(15*time.Second, "both deliveries settled", func() bool {
		r := e.Request("GET", "/v1/messages?transactionId=tx-dashboard-1", nil)
		body := string(r.Body)
		return strings.Count(body, `"status":"sent"`) == 1 && strings.Count(body, `"status":"error"`) == 1
	})

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	shots := artifactsDir(t)
	shot := func(name string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			var buf []byte
			if err := chromedp.FullScreenshot(&buf, 100).Do(ctx); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644)
		})
	}
	var text string
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// Unauthenticated: redirected to sign-in; a wrong key is refused.
	run("wrong key",
		chromedp.Navigate(e.URL+"/dashboard"),
		chromedp.WaitVisible(`#apiKey`, chromedp.ByID),
		chromedp.SendKeys(`#apiKey`, "not-the-key", chromedp.ByID),
		chromedp.Click(`#signin`, chromedp.ByID),
		chromedp.WaitVisible(`p.error`, chromedp.ByQuery),
		chromedp.Text(`p.error`, &text, chromedp.ByQuery),
		shot("01-wrong-key"),
	)
	if !strings.Contains(text, "not accepted") {
		t.Fatalf("wrong key message: %q", text)
	}

	// Sign in: the feed shows one sent and one failed delivery.
	run("sign in",
		chromedp.SendKeys(`#apiKey`, e.APIKey, chromedp.ByID),
		chromedp.Click(`#signin`, chromedp.ByID),
		chromedp.WaitVisible(`#feed`, chromedp.ByID),
		chromedp.Text(`#feed tbody`, &text, chromedp.ByQuery),
		shot("02-feed"),
	)
	if !strings.Contains(text, "sent") || !strings.Contains(text, "failed") || !strings.Contains(text, "deploy-finished") {
		t.Fatalf("feed: %q", text)
	}
	var rows int
	run("count rows", chromedp.Evaluate(`document.querySelectorAll('#feed tbody tr').length`, &rows))
	if rows != 2 {
		t.Fatalf("feed has %d rows, want 2", rows)
	}

	// Filter by status: only the failed delivery.
	run("filter",
		chromedp.SetValue(`#f-status`, "failed", chromedp.ByID),
		// The unfiltered page shows a failed row too: mark it, so that the
		// wait below is satisfied only by the filtered page.
		chromedp.Evaluate(`document.body.dataset.stale = "1"`, nil),
		chromedp.Click(`#apply`, chromedp.ByID),
		chromedp.WaitVisible(`body:not([data-stale]) #feed tr.row-failed`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('#feed tbody tr').length`, &rows),
		chromedp.Text(`#feed tbody`, &text, chromedp.ByQuery),
		shot("03-filtered"),
	)
	if rows != 1 || !strings.Contains(text, "bob") {
		t.Fatalf("filtered feed (%d rows): %q", rows, text)
	}

	// The failed notification shows the provider's status and body.
	run("open failed",
		chromedp.Click(`#feed tr.row-failed td a`, chromedp.ByQuery),
		chromedp.WaitVisible(`.timeline`, chromedp.ByQuery),
		chromedp.Text(`main`, &text, chromedp.ByQuery),
		shot("04-failed-notification"),
	)
	for _, want := range []string{"Unexpected provider error", "HTTP 400", "invalid_payload"} {
		if !strings.Contains(text, want) {
			t.Fatalf("notification page lacks %q: %s", want, text)
		}
	}
	if strings.Contains(text, "secret-token-bob") {
		t.Fatal("dashboard shows the webhook URL")
	}

	// Retry: the new attempt succeeds and appears on the timeline.
	run("retry",
		chromedp.Click(`button.retry`, chromedp.ByQuery),
		chromedp.WaitVisible(`p.flash`, chromedp.ByQuery),
		chromedp.Text(`p.flash`, &text, chromedp.ByQuery),
	)
	if !strings.Contains(text, "Retry queued") {
		t.Fatalf("flash: %q", text)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		run("reload", chromedp.Reload(), chromedp.WaitVisible(`.timeline`, chromedp.ByQuery), chromedp.Text(`main`, &text, chromedp.ByQuery))
		if strings.Contains(text, "Message sent") || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	run("after retry", shot("05-after-retry"))
	if !strings.Contains(text, "Retry requested") || !strings.Contains(text, "Message sent") {
		t.Fatalf("timeline after retry: %s", text)
	}

	// Subscriber and queue pages render.
	run("subscriber", chromedp.Navigate(e.URL+"/dashboard/subscribers/bob"), chromedp.WaitVisible(`h1`, chromedp.ByQuery),
		chromedp.Text(`main`, &text, chromedp.ByQuery), shot("06-subscriber"))
	if !strings.Contains(text, "Connected channels") || strings.Contains(text, "secret-token-bob") {
		t.Fatalf("subscriber page: %s", text)
	}
	run("queues", chromedp.Navigate(e.URL+"/dashboard/queues"), chromedp.WaitVisible(`h1`, chromedp.ByQuery),
		chromedp.Text(`main`, &text, chromedp.ByQuery), shot("07-queues"))
	if !strings.Contains(text, "herald_deliver") {
		t.Fatalf("queues page: %s", text)
	}
	t.Logf("screenshots in %s", shots)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// TestDashboardCSRFAndSession checks the protections without a browser.
func TestDashboardCSRFAndSession(t *testing.T) {
	e := heraldtest.New(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (*http.Response, string) {
		resp, err := c.Get(e.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	post := func(path string, form url.Values) *http.Response {
		resp, err := c.PostForm(e.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp, _ := get("/dashboard"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard/login" {
		t.Fatalf("unauthenticated feed: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Login without the form's CSRF token is refused.
	if resp := post("/dashboard/login", url.Values{"apiKey": {e.APIKey}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login without csrf: %d", resp.StatusCode)
	}
	_, page := get("/dashboard/login")
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no csrf token on the login page")
	}
	resp := post("/dashboard/login", url.Values{"apiKey": {e.APIKey}, "csrf": {m[1]}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "herald_session" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.MaxAge <= 0 {
		t.Fatalf("session cookie: %+v", session)
	}
	if strings.Contains(session.Value, e.APIKey) {
		t.Fatal("session cookie contains the API key")
	}
	resp, page = get("/dashboard")
	if resp.StatusCode != 200 {
		t.Fatalf("feed after login: %d", resp.StatusCode)
	}
	// A POST without the CSRF token is refused; with it, it goes through.
	if resp := post("/dashboard/messages/000000000000000000000000/retry", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("retry without csrf: %d", resp.StatusCode)
	}
	if resp := post("/dashboard/logout", url.Values{"csrf": {"forged"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout with a forged csrf: %d", resp.StatusCode)
	}
	token := csrfRE.FindStringSubmatch(page)[1]
	if resp := post("/dashboard/logout", url.Values{"csrf": {token}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if resp, _ := get("/dashboard"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("feed after logout: %d", resp.StatusCode)
	}
	// A tampered session cookie is refused.
	u, _ := url.Parse(e.URL + "/dashboard")
	jar.SetCookies(u, []*http.Cookie{{Name: "herald_session", Value: session.Value + "x", Path: "/dashboard"}})
	if resp, _ := get("/dashboard"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("tampered session: %d", resp.StatusCode)
	}
}
