package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/pkg/environment"
	"github.com/heraldhq/herald/pkg/ratelimit"
	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/store"
)

const (
	ctxEnvironment = "herald.environment"
	ctxRequestID   = "herald.request_id"
	headerReqID    = "X-Request-Id"
)

func requestID(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

// requestLog gives every request an id (kept from X-Request-Id when sane) and
// logs one line per request. The query string is never logged: it can carry
// OAuth codes and HMACs.
func (s *Server) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		id := c.Request().Header.Get(headerReqID)
		if id == "" || len(id) > 64 || strings.ContainsAny(id, " \r\n\t") {
			id = secret.RandomHex(8)
		}
		c.Set(ctxRequestID, id)
		c.Response().Header().Set(headerReqID, id)
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		lvl := slog.LevelInfo
		if c.Response().Status >= 500 {
			lvl = slog.LevelError
		}
		if ctx := c.Request().Context(); s.Logger.Enabled(ctx, lvl) {
			s.Logger.Log(ctx, lvl, "request", "request_id", id, "method", c.Request().Method, "route", route,
				"status", c.Response().Status, "duration_ms", float64(time.Since(start).Microseconds())/1000,
				"bytes_out", c.Response().Size)
		}
		return nil
	}
}

func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				s.Logger.Error("panic in handler", "request_id", requestID(c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = errInternal(fmt.Errorf("panic: %v", r))
			}
		}()
		return next(c)
	}
}

// authenticate checks "Authorization: ApiKey <key>" and stores the environment.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get("Authorization")
		if h == "" {
			return errMissingAuth
		}
		scheme, key, _ := strings.Cut(strings.TrimSpace(h), " ")
		if !strings.EqualFold(scheme, "ApiKey") {
			return errInvalidScheme
		}
		key = strings.TrimSpace(key)
		if key == "" {
			return errKeyNotFound
		}
		env, err := s.Environments.FindByAPIKey(c.Request().Context(), key)
		if errors.Is(err, store.ErrNotFound) {
			return errKeyNotFound
		}
		if err != nil {
			return errUnavailable("Database unavailable", err)
		}
		c.Set(ctxEnvironment, env)
		return next(c)
	}
}

// Env returns the authenticated environment of a request.
func Env(c echo.Context) *environment.Environment {
	env, _ := c.Get(ctxEnvironment).(*environment.Environment)
	return env
}

// storeErr maps a store error to an API error: not-found becomes 404 with msg.
func storeErr(err error, notFound string) error {
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound(notFound)
	}
	return errInternal(err)
}

var _ = http.StatusOK

// triggerPaths are the routes the per-environment trigger rate limit covers.
var triggerPaths = map[string]bool{
	"/v1/events/trigger": true, "/v1/events/trigger/bulk": true, "/v1/events/trigger/broadcast": true,
}

// triggerLimit is the environment's trigger rate limit: its own setting, else
// HERALD_TRIGGER_RATE_LIMIT.
func (s *Server) triggerLimit(env *environment.Environment) ratelimit.Limit {
	if v := env.Policy.TriggerRateLimit; v != "" {
		if lim, err := ratelimit.ParseRate(v); err == nil {
			return lim // burst: the rate's count
		}
	}
	return s.Config.TriggerRateLimit
}

// limitTriggers enforces the per-environment trigger rate limit, in Redis so
// that every API process shares it. Each request counts once (a bulk request
// too). Over the limit: 429 with Retry-After, in the API's error shape. When
// Redis cannot answer the request goes on; enqueueing will report it.
func (s *Server) limitTriggers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.RateLimiter == nil || !triggerPaths[c.Path()] {
			return next(c)
		}
		env := Env(c)
		if env == nil {
			return next(c)
		}
		lim := s.triggerLimit(env)
		if lim.IsZero() {
			return next(c)
		}
		wait, err := s.RateLimiter.Allow(c.Request().Context(), ratelimit.EnvironmentKey(env.ID.Hex()), lim)
		if err != nil {
			s.Logger.Warn("trigger rate limit unavailable", "request_id", requestID(c), "error", err.Error())
			return next(c)
		}
		if wait > 0 {
			secs := int(math.Ceil(wait.Seconds()))
			if secs < 1 {
				secs = 1
			}
			c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
			return &Error{Status: http.StatusTooManyRequests, Message: fmt.Sprintf(
				"Trigger rate limit of this environment exceeded (%s); retry after %d s", lim.String(), secs)}
		}
		return next(c)
	}
}
