package httpapi

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// cancelRoutes registers DELETE /v1/events/trigger/:transactionId.
func (s *Server) cancelRoutes(api *echo.Group) {
	api.DELETE("/events/trigger/:transactionId", s.cancelTrigger)
}

// cancelTrigger cancels the transaction's delayed and digest work not sent
// yet in the caller's environment: {data:true} when something was canceled.
func (s *Server) cancelTrigger(c echo.Context) error {
	tx := strings.TrimSpace(c.Param("transactionId"))
	if tx == "" || len(tx) > MaxTransactionIDLen {
		return errValidation([]string{"transactionId must be 1 to 256 characters"})
	}
	if s.Canceler == nil {
		return errUnavailable("Cancel is not available", nil)
	}
	ok, err := s.Canceler.Cancel(c.Request().Context(), Env(c).ID, tx)
	if err != nil {
		return errUnavailable("Queue or database unavailable, try again later", err)
	}
	return data(c, http.StatusOK, ok)
}
