package httpapi

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/store"
)

// retryMessage answers POST /v1/messages/:messageId/retry: a failed (or
// dead-lettered) message is sent again with the subscriber's current
// credentials; the log records "Retry requested" and the new attempt.
func (s *Server) retryMessage(c echo.Context) error {
	id := c.Param("messageId")
	notFound := "Message with id " + id + " not found"
	oid, err := store.ParseID(id)
	if err != nil {
		return errNotFound(notFound)
	}
	r := &delivery.Retrier{Log: s.Deliveries, Subscribers: s.Subscribers, Queue: s.Queue}
	m, err := r.Retry(c.Request().Context(), Env(c).ID, oid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNotFound(notFound)
	case errors.Is(err, delivery.ErrNotRetryable):
		return errConflict("Message " + id + " is not in a failed state; only failed messages can be retried")
	case err != nil:
		return errUnavailable("Could not queue the retry", err)
	}
	return data(c, http.StatusCreated, viewMessage(m))
}

// deleteMessagesByTransaction answers DELETE /v1/messages/transaction/:transactionId
// with 204, as Novu does (also when nothing matched).
func (s *Server) deleteMessagesByTransaction(c echo.Context) error {
	id := c.Param("transactionId")
	if id == "" {
		return errBadRequest("transactionId should not be empty")
	}
	if _, err := s.Deliveries.DeleteByTransaction(c.Request().Context(), Env(c).ID, id); err != nil {
		return errInternal(err)
	}
	return c.NoContent(http.StatusNoContent)
}
