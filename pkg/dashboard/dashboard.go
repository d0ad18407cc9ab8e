package dashboard

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/environment"
	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/subscriber"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Feed statuses shown as badges.
const (
	StatusSent           = "sent"
	StatusFailed         = "failed"
	StatusRetrying       = "retrying"
	StatusPending        = "pending"
	StatusCanceled       = "canceled"
	StatusNeedsReconnect = "needs_reconnect"
)

// Statuses lists the feed's statuses in display order.
var Statuses = []string{StatusSent, StatusFailed, StatusRetrying, StatusPending, StatusCanceled, StatusNeedsReconnect}

// FeedFilter narrows the activity feed.
type FeedFilter struct {
	Status        string
	Workflow      string
	SubscriberID  string
	TransactionID string
	From, To      time.Time
}

// FeedRow is one delivery in the feed.
type FeedRow struct {
	NotificationID string
	MessageID      string
	CreatedAt      time.Time
	Workflow       string
	SubscriberID   string
	TransactionID  string
	Channel        string
	Provider       string
	Status         string
}

// DetailView is one execution detail on a timeline.
type DetailView struct {
	CreatedAt  time.Time
	Detail     string
	Status     string
	Source     string
	Raw        string // already redacted
	IsRetry    bool
	Attempt    int
	StatusCode int
}

// JobView is one delivery (step × channel) of a notification.
type JobView struct {
	MessageID string
	Step      string
	Channel   string
	Provider  string
	Status    string
	Attempts  int
	NextRetry *time.Time
	Retryable bool
	Content   string
	Details   []DetailView
}

// NotificationView is a notification with its deliveries.
type NotificationView struct {
	ID            string
	Workflow      string
	SubscriberID  string
	TransactionID string
	CreatedAt     time.Time
	Payload       string
	Jobs          []JobView
}

// QueueStat is one asynq queue's health.
type QueueStat struct {
	Name                                    string
	Size, Pending, Active, Scheduled, Retry int
	Archived, Completed                     int
	ProcessedPerMinute, FailedPerMinute     int
	Paused                                  bool
}

// Activity is what the dashboard reads and does on the delivery log.
type Activity interface {
	Feed(ctx context.Context, env primitive.ObjectID, f FeedFilter, page, limit int) (rows []FeedRow, total int64, counts map[string]int64, err error)
	Notification(ctx context.Context, env primitive.ObjectID, id string) (*NotificationView, error)
	Retry(ctx context.Context, env primitive.ObjectID, messageID string) error
}

// Queues reports queue health.
type Queues interface {
	Stats(ctx context.Context) ([]QueueStat, error)
}

// Links builds a subscriber's shareable "Add to Slack" URL.
type Links interface {
	SlackConnectURL(ctx context.Context, env *environment.Environment, subscriberID string) (string, error)
}

// Deps are the dashboard's collaborators.
type Deps struct {
	Logger       *slog.Logger
	Cipher       *secret.Cipher
	Environments *environment.Store
	Subscribers  *subscriber.Store
	Activity     Activity
	Queues       Queues
	Links        Links // optional
	SecureCookie bool  // set when served over https
	SessionTTL   time.Duration
}

// Dashboard serves the UI.
type Dashboard struct {
	Deps
	ses   *sessions
	pages map[string]*template.Template
}

// New parses the templates and returns the dashboard.
func New(d Deps) (*Dashboard, error) {
	if d.SessionTTL == 0 {
		d.SessionTTL = 12 * time.Hour
	}
	db := &Dashboard{
		Deps:  d,
		ses:   &sessions{key: d.Cipher.DeriveKey("dashboard-session"), ttl: d.SessionTTL, secure: d.SecureCookie, now: time.Now},
		pages: map[string]*template.Template{},
	}
	funcs := template.FuncMap{
		"time":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
		"badge":  func(s string) string { return strings.ReplaceAll(s, "_", " ") },
		"lower":  strings.ToLower,
		"ptime":  func(t *time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
		"add":    func(a, b int) int { return a + b },
		"query":  func(v url.Values) template.URL { return template.URL(v.Encode()) },
		"status": func() []string { return Statuses },
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		db.pages[base] = t
	}
	return db, nil
}

// Register adds the dashboard's routes to e.
func (d *Dashboard) Register(e *echo.Echo) {
	static, _ := fs.Sub(staticFS, "static")
	e.GET("/dashboard/static/*", echo.WrapHandler(http.StripPrefix("/dashboard/static/", http.FileServer(http.FS(static)))))
	e.GET("/dashboard/login", d.loginPage)
	e.POST("/dashboard/login", d.login)
	g := e.Group("/dashboard", d.requireSession)
	g.GET("", d.feed)
	g.GET("/", d.feed)
	g.POST("/logout", d.logout, d.requireCSRF)
	g.GET("/notifications/:id", d.notification)
	g.POST("/messages/:id/retry", d.retry, d.requireCSRF)
	g.GET("/subscribers/:subscriberId", d.subscriberPage)
	g.GET("/queues", d.queues)
}

const ctxSession = "dashboard.session"
const ctxEnv = "dashboard.env"

type page struct {
	Title   string
	Env     *environment.Environment
	CSRF    string
	Flash   string
	Error   string
	Refresh bool
	Data    any
}

func (d *Dashboard) render(c echo.Context, status int, name string, p page) error {
	if ses, ok := c.Get(ctxSession).(session); ok {
		p.CSRF = d.ses.csrf(ses)
		p.Env, _ = c.Get(ctxEnv).(*environment.Environment)
	}
	h := c.Response().Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'")
	c.Response().WriteHeader(status)
	return d.pages[name].ExecuteTemplate(c.Response(), "layout.html", p)
}

func (d *Dashboard) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ck, err := c.Cookie(sessionCookie)
		if err != nil {
			return c.Redirect(http.StatusSeeOther, "/dashboard/login")
		}
		ses, err := d.ses.decode(ck.Value)
		if err != nil {
			c.SetCookie(d.ses.cookie(sessionCookie, "", -1))
			return c.Redirect(http.StatusSeeOther, "/dashboard/login")
		}
		id, err := primitive.ObjectIDFromHex(ses.EnvironmentID)
		if err != nil {
			return c.Redirect(http.StatusSeeOther, "/dashboard/login")
		}
		env, err := d.Environments.FindByID(c.Request().Context(), id)
		if err != nil {
			c.SetCookie(d.ses.cookie(sessionCookie, "", -1))
			return c.Redirect(http.StatusSeeOther, "/dashboard/login")
		}
		c.Set(ctxSession, ses)
		c.Set(ctxEnv, env)
		return next(c)
	}
}

func (d *Dashboard) requireCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ses := c.Get(ctxSession).(session)
		if !secret.Equal(c.FormValue("csrf"), d.ses.csrf(ses)) {
			return d.render(c, http.StatusForbidden, "error", page{Title: "Request refused", Error: "This form has expired or did not come from the dashboard (CSRF check failed). Reload the page and try again."})
		}
		return next(c)
	}
}

func env(c echo.Context) *environment.Environment { return c.Get(ctxEnv).(*environment.Environment) }

func (d *Dashboard) loginPage(c echo.Context) error {
	return d.renderLogin(c, http.StatusOK, "")
}

func (d *Dashboard) renderLogin(c echo.Context, status int, msg string) error {
	token := secret.RandomHex(16)
	c.SetCookie(d.ses.cookie(loginCookie, token, 600))
	return d.render(c, status, "login", page{Title: "Sign in", CSRF: token, Error: msg})
}

func (d *Dashboard) login(c echo.Context) error {
	ck, err := c.Cookie(loginCookie)
	if err != nil || ck.Value == "" || !secret.Equal(ck.Value, c.FormValue("csrf")) {
		return d.renderLogin(c, http.StatusForbidden, "The sign-in form expired (CSRF check failed). Please try again.")
	}
	key := strings.TrimSpace(c.FormValue("apiKey"))
	if key == "" {
		return d.renderLogin(c, http.StatusUnauthorized, "Enter an environment API key.")
	}
	e, err := d.Environments.FindByAPIKey(c.Request().Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		d.Logger.Warn("dashboard sign-in refused", "reason", "unknown api key")
		return d.renderLogin(c, http.StatusUnauthorized, "That API key was not accepted.")
	}
	if err != nil {
		return err
	}
	value, _ := d.ses.encode(e.ID.Hex())
	c.SetCookie(d.ses.cookie(sessionCookie, value, int(d.SessionTTL.Seconds())))
	c.SetCookie(d.ses.cookie(loginCookie, "", -1))
	d.Logger.Info("dashboard sign-in", "environment_id", e.ID.Hex())
	return c.Redirect(http.StatusSeeOther, "/dashboard")
}

func (d *Dashboard) logout(c echo.Context) error {
	c.SetCookie(d.ses.cookie(sessionCookie, "", -1))
	return c.Redirect(http.StatusSeeOther, "/dashboard/login")
}

const feedPageSize = 25

type feedData struct {
	Filter  FeedFilter
	From    string
	To      string
	Rows    []FeedRow
	Counts  map[string]int64
	Total   int64
	Page    int
	HasPrev bool
	HasNext bool
	PrevQ   url.Values
	NextQ   url.Values
}

func parseDay(s string, endOfDay bool) time.Time {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			if endOfDay && layout == "2006-01-02" {
				t = t.Add(24*time.Hour - time.Millisecond)
			}
			return t
		}
	}
	return time.Time{}
}

func (d *Dashboard) feed(c echo.Context) error {
	q := c.QueryParams()
	f := FeedFilter{
		Status: q.Get("status"), Workflow: strings.TrimSpace(q.Get("workflow")),
		SubscriberID: strings.TrimSpace(q.Get("subscriberId")), TransactionID: strings.TrimSpace(q.Get("transactionId")),
		From: parseDay(q.Get("from"), false), To: parseDay(q.Get("to"), true),
	}
	p, _ := strconv.Atoi(q.Get("page"))
	if p < 0 {
		p = 0
	}
	rows, total, counts, err := d.Activity.Feed(c.Request().Context(), env(c).ID, f, p, feedPageSize)
	if err != nil {
		return err
	}
	data := feedData{Filter: f, From: q.Get("from"), To: q.Get("to"), Rows: rows, Counts: counts, Total: total, Page: p,
		HasPrev: p > 0, HasNext: int64((p+1)*feedPageSize) < total}
	with := func(n int) url.Values {
		v := url.Values{}
		for k, vals := range q {
			v[k] = vals
		}
		v.Set("page", strconv.Itoa(n))
		return v
	}
	data.PrevQ, data.NextQ = with(p-1), with(p+1)
	return d.render(c, http.StatusOK, "feed", page{Title: "Activity", Data: data, Refresh: q.Get("refresh") == "1"})
}

func (d *Dashboard) notification(c echo.Context) error {
	n, err := d.Activity.Notification(c.Request().Context(), env(c).ID, c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return d.render(c, http.StatusNotFound, "error", page{Title: "Not found", Error: "No notification with this id in this environment."})
	}
	if err != nil {
		return err
	}
	return d.render(c, http.StatusOK, "notification", page{Title: "Notification", Data: n, Flash: c.QueryParam("flash")})
}

func (d *Dashboard) retry(c echo.Context) error {
	id := c.Param("id")
	back := c.FormValue("notification")
	if _, err := primitive.ObjectIDFromHex(back); err != nil {
		back = ""
	}
	flash := "Retry queued: a new attempt will appear below."
	if err := d.Activity.Retry(c.Request().Context(), env(c).ID, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			flash = "That message no longer exists."
		} else {
			flash = "Retry failed: " + err.Error()
		}
	}
	if back == "" {
		return c.Redirect(http.StatusSeeOther, "/dashboard?flash="+url.QueryEscape(flash))
	}
	return c.Redirect(http.StatusSeeOther, "/dashboard/notifications/"+back+"?flash="+url.QueryEscape(flash))
}

type channelRow struct {
	Provider, Integration, Status, Reason, Webhook, Channel, Team string
}

type subscriberData struct {
	Subscriber *subscriber.Subscriber
	Channels   []channelRow
	ConnectURL string
	ConnectErr string
}

func (d *Dashboard) subscriberPage(c echo.Context) error {
	id := c.Param("subscriberId")
	sub, err := d.Subscribers.Get(c.Request().Context(), env(c).ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return d.render(c, http.StatusNotFound, "error", page{Title: "Not found", Error: "No subscriber " + id + " in this environment."})
	}
	if err != nil {
		return err
	}
	data := subscriberData{Subscriber: sub}
	for _, ch := range sub.Channels {
		row := channelRow{Provider: ch.ProviderID, Integration: ch.IntegrationIdentifier, Status: ch.Status, Reason: ch.StatusReason,
			Channel: ch.Credentials.Channel, Team: ch.Credentials.TeamName}
		if row.Status == "" {
			row.Status = subscriber.StatusConnected
		}
		if ch.Credentials.WebhookURL != "" {
			if plain, err := d.Cipher.Decrypt(ch.Credentials.WebhookURL); err == nil {
				row.Webhook = secret.MaskURL(plain)
			}
		}
		data.Channels = append(data.Channels, row)
	}
	if d.Links != nil {
		u, err := d.Links.SlackConnectURL(c.Request().Context(), env(c), id)
		if err != nil {
			data.ConnectErr = err.Error()
		}
		data.ConnectURL = u
	}
	return d.render(c, http.StatusOK, "subscriber", page{Title: "Subscriber " + id, Data: data})
}

func (d *Dashboard) queues(c echo.Context) error {
	stats, err := d.Queues.Stats(c.Request().Context())
	if err != nil {
		return d.render(c, http.StatusServiceUnavailable, "queues", page{Title: "Queues", Error: "Queue statistics are unavailable: " + err.Error()})
	}
	return d.render(c, http.StatusOK, "queues", page{Title: "Queues", Data: stats, Refresh: c.QueryParam("refresh") == "1"})
}
