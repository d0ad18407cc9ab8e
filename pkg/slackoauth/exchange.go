package slackoauth

import (
	"context"
	"errors"
	"net/http"

	"github.com/slack-go/slack"

	"github.com/heraldhq/herald/pkg/secret"
)

// Webhook is the incoming webhook Slack returns from oauth.v2.access.
type Webhook struct {
	URL              secret.String
	Channel          string
	ChannelID        string
	ConfigurationURL string
	TeamID           string
	TeamName         string
}

// SlackError is Slack answering oauth.v2.access with ok:false; Code is
// Slack's error code, such as invalid_code or bad_redirect_uri.
type SlackError struct{ Code string }

func (e *SlackError) Error() string { return "slack oauth.v2.access: " + e.Code }

// exchanger swaps an authorization code for an incoming webhook.
type exchanger struct {
	client *http.Client
	apiURL string // ends with "/"
}

// exchange calls oauth.v2.access (form-encoded client_id, client_secret,
// code, redirect_uri). Errors never contain the secret, the code or the
// webhook URL.
func (x exchanger) exchange(ctx context.Context, clientID string, clientSecret, code secret.String, redirectURI string) (Webhook, error) {
	resp, err := slack.GetOAuthV2ResponseContext(ctx, x.client, clientID, clientSecret.Reveal(), code.Reveal(), redirectURI,
		slack.OAuthOptionAPIURL(x.apiURL))
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return Webhook{}, &SlackError{Code: sanitizeCode(se.Err)}
	}
	if err != nil {
		return Webhook{}, err
	}
	return Webhook{
		URL:              secret.String(resp.IncomingWebhook.URL),
		Channel:          resp.IncomingWebhook.Channel,
		ChannelID:        resp.IncomingWebhook.ChannelID,
		ConfigurationURL: resp.IncomingWebhook.ConfigurationURL,
		TeamID:           resp.Team.ID,
		TeamName:         resp.Team.Name,
	}, nil
}

// sanitizeCode keeps an error code from Slack (or from the callback's
// error parameter) to the characters Slack uses, so it is safe to log,
// show and put in a URL.
func sanitizeCode(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(out) < 64; i++ {
		c := s[i]
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return "unknown_error"
	}
	return string(out)
}
