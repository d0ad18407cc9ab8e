package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// Error is an API error with the status and message the client sees.
// Message is a string, or a list of strings for field validation.
type Error struct {
	Status  int
	Message any
	Cause   error // logged, never shown
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%d %v: %v", e.Status, e.Message, e.Cause)
	}
	return fmt.Sprintf("%d %v", e.Status, e.Message)
}

func (e *Error) Unwrap() error { return e.Cause }

// StatusCode is the HTTP status the client sees.
func (e *Error) StatusCode() int { return e.Status }

// The catalogue of API errors. Handlers return these; the error handler renders them.
func errBadRequest(msg string) *Error { return &Error{Status: http.StatusBadRequest, Message: msg} }

func errValidation(msgs []string) *Error {
	return &Error{Status: http.StatusBadRequest, Message: msgs}
}

func errNotFound(msg string) *Error     { return &Error{Status: http.StatusNotFound, Message: msg} }
func errConflict(msg string) *Error     { return &Error{Status: http.StatusConflict, Message: msg} }
func errUnauthorized(msg string) *Error { return &Error{Status: http.StatusUnauthorized, Message: msg} }
func errUnprocessable(msg string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Message: msg}
}

func errUnavailable(msg string, cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Message: msg, Cause: cause}
}

func errInternal(cause error) *Error {
	return &Error{Status: http.StatusInternalServerError, Message: "Internal server error", Cause: cause}
}

// Auth failures, worded as Novu words them.
var (
	errMissingAuth   = errUnauthorized("Missing authorization header")
	errInvalidScheme = errUnauthorized("Invalid authentication scheme")
	errKeyNotFound   = errUnauthorized("API Key not found")
)

// errorBody is Novu's error shape.
type errorBody struct {
	StatusCode int    `json:"statusCode"`
	Message    any    `json:"message"`
	Error      string `json:"error"`
	Timestamp  string `json:"timestamp"`
	Path       string `json:"path"`
}

func newErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		var apiErr *Error
		var httpErr *echo.HTTPError
		switch {
		case errors.As(err, &apiErr):
		case errors.As(err, &httpErr):
			apiErr = &Error{Status: httpErr.Code, Message: fmt.Sprint(httpErr.Message)}
			if httpErr.Code == http.StatusNotFound {
				apiErr.Message = fmt.Sprintf("Cannot %s %s", c.Request().Method, c.Request().URL.Path)
			}
			if httpErr.Code == http.StatusMethodNotAllowed {
				apiErr.Message = fmt.Sprintf("Cannot %s %s", c.Request().Method, c.Request().URL.Path)
				apiErr.Status = http.StatusNotFound
			}
		default:
			apiErr = errInternal(err)
		}
		if apiErr.Status >= 500 {
			log.Error("request failed", "request_id", requestID(c), "method", c.Request().Method,
				"route", c.Path(), "status", apiErr.Status, "error", apiErr.Error())
		}
		body := errorBody{
			StatusCode: apiErr.Status,
			Message:    apiErr.Message,
			Error:      http.StatusText(apiErr.Status),
			Timestamp:  time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
			Path:       c.Request().URL.Path,
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(apiErr.Status)
			return
		}
		_ = c.JSON(apiErr.Status, body)
	}
}
