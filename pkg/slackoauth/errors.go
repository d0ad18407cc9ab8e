package slackoauth

import "fmt"

// Reason is a stable, machine-readable failure code. It is what an
// integration's redirectUrl receives as ?status=error&reason=… and what
// docs/slack.md lists.
type Reason string

// Failure reasons.
const (
	ReasonInvalidRequest        Reason = "invalid_request"        // malformed subscriber or environment id
	ReasonEnvironmentNotFound   Reason = "environment_not_found"  // environmentId names no environment
	ReasonIntegrationNotFound   Reason = "integration_not_found"  // no Slack integration (with that identifier)
	ReasonIntegrationInactive   Reason = "integration_inactive"   // the integration is switched off
	ReasonIntegrationIncomplete Reason = "integration_incomplete" // clientId or secretKey missing
	ReasonHMACMissing           Reason = "hmac_missing"           // HMAC on, no hmacHash
	ReasonHMACInvalid           Reason = "hmac_invalid"           // HMAC on, wrong hmacHash
	ReasonInvalidState          Reason = "invalid_state"          // missing, malformed or tampered state
	ReasonExpiredState          Reason = "expired_state"          // the round trip took longer than StateTTL
	ReasonReplayedState         Reason = "replayed_state"         // the callback URL was opened twice
	ReasonAccessDenied          Reason = "access_denied"          // the user pressed Cancel on Slack
	ReasonMissingCode           Reason = "missing_code"           // Slack's redirect carried no code
	ReasonSlackError            Reason = "slack_error"            // oauth.v2.access answered ok:false
	ReasonSlackUnavailable      Reason = "slack_unavailable"      // oauth.v2.access did not answer properly
	ReasonNoWebhook             Reason = "no_webhook"             // the grant has no incoming webhook
)

// Error is a failed step of the round trip. Message is safe to show to the
// end user and to API clients; Cause is for the log only.
type Error struct {
	Reason  Reason
	Message string
	// SlackError is Slack's error code for ReasonSlackError and for an
	// error parameter other than access_denied on the callback.
	SlackError string
	// RedirectURL is the integration's redirectUrl, set once the request is
	// known to belong to the integration (signed state or verified entry).
	RedirectURL string
	Cause       error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("slackoauth: %s: %s", e.Reason, e.Message)
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Cause }

func fail(r Reason, msg string) *Error { return &Error{Reason: r, Message: msg} }
