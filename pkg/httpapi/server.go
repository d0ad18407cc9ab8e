package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/environment"
	"github.com/heraldhq/herald/pkg/integration"
	"github.com/heraldhq/herald/pkg/metrics"
	"github.com/heraldhq/herald/pkg/ratelimit"
	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/slackoauth"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/subscriber"
	"github.com/heraldhq/herald/pkg/template"
	"github.com/heraldhq/herald/pkg/topic"
	"github.com/heraldhq/herald/pkg/workflow"
)

// Deps are what the API needs; the app wiring builds them.
type Deps struct {
	Logger       *slog.Logger
	Config       config.Config
	Store        *store.Store
	Cipher       *secret.Cipher
	Environments *environment.Store
	Subscribers  *subscriber.Store
	Integrations *integration.Store
	Topics       *topic.Store
	Workflows    *workflow.Store
	Templates    *template.Engine
	Deliveries   *delivery.Log
	// Queue receives trigger tasks; *asynq.Client implements it.
	Queue delivery.Enqueuer
	// Redis holds the transactionIds used in the last 24 hours (trigger
	// idempotency); nil disables the check.
	Redis redis.UniversalClient
	// Ready reports whether the backing services answer (GET /readyz).
	Ready func(ctx context.Context) error
	// Metrics, when set, counts triggers and serves GET /metrics.
	Metrics *metrics.Metrics
	// SlackOAuth runs the "Add to Slack" round trip.
	SlackOAuth *slackoauth.Service
	// RateLimiter, when set, enforces the per-environment trigger rate limit.
	RateLimiter *ratelimit.Limiter
	// Canceler cancels a transaction's pending work.
	Canceler *delivery.Canceler
}

// Server is the HTTP API.
type Server struct {
	Deps
	echo *echo.Echo
}

// New builds the API and registers its routes.
func New(d Deps) *Server {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = newErrorHandler(d.Logger)
	s := &Server{Deps: d, echo: e}
	e.Use(s.requestLog, s.recoverPanics)
	if d.Metrics != nil {
		e.Use(d.Metrics.CountTriggers)
		e.GET("/metrics", echo.WrapHandler(d.Metrics.Handler()))
	}

	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", s.readyz)

	v1 := e.Group("/v1")
	api := v1.Group("", s.authenticate, s.limitTriggers)
	api.GET("/environments/me", s.environmentMe)
	api.GET("/environments/api-keys", s.environmentAPIKeys)
	api.PUT("/environments/:environmentId", s.updateEnvironment)

	api.POST("/subscribers", s.createSubscriber)
	api.GET("/subscribers", s.listSubscribers)
	api.POST("/subscribers/bulk", s.bulkCreateSubscribers)
	api.GET("/subscribers/:subscriberId", s.getSubscriber)
	api.PUT("/subscribers/:subscriberId", s.updateSubscriber)
	api.DELETE("/subscribers/:subscriberId", s.deleteSubscriber)
	api.PUT("/subscribers/:subscriberId/credentials", s.putCredentials)
	api.PATCH("/subscribers/:subscriberId/credentials", s.patchCredentials)
	api.DELETE("/subscribers/:subscriberId/credentials/:providerId", s.deleteCredentials)

	api.POST("/integrations", s.createIntegration)
	api.GET("/integrations", s.listIntegrations)
	api.GET("/integrations/active", s.listActiveIntegrations)
	api.GET("/integrations/:integrationId", s.getIntegration)
	api.PUT("/integrations/:integrationId", s.updateIntegration)
	api.DELETE("/integrations/:integrationId", s.deleteIntegration)
	s.registerSlackOAuth(v1, api)
	s.registerTopicRoutes(api)

	s.workflowRoutes(api)
	s.triggerRoutes(api)
	s.cancelRoutes(api)
	s.deliveryLogRoutes(api)
	return s
}

// Echo exposes the router so other packages (workflows, OAuth, dashboard) can add routes.
func (s *Server) Echo() *echo.Echo { return s.echo }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

func (s *Server) readyz(c echo.Context) error {
	if s.Ready == nil {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		s.Logger.Warn("not ready", "error", err.Error())
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}
