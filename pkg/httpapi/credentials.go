package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/pkg/integration"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/subscriber"
)

// credentialsBody is PUT/PATCH /v1/subscribers/:id/credentials, and one
// entry of a subscriber's channels on create.
type credentialsBody struct {
	ProviderID            string `json:"providerId"`
	IntegrationIdentifier string `json:"integrationIdentifier"`
	Credentials           *struct {
		WebhookURL   string   `json:"webhookUrl"`
		Channel      string   `json:"channel"`
		DeviceTokens []string `json:"deviceTokens"`
	} `json:"credentials"`
}

func (b *credentialsBody) validate() []string {
	var problems []string
	if b.ProviderID == "" {
		problems = append(problems, "providerId should not be empty")
	} else if !integration.KnownProvider(b.ProviderID) {
		problems = append(problems, "providerId must be one of the following values: "+strings.Join(integration.ProviderIDs(), ", "))
	}
	if b.Credentials == nil {
		problems = append(problems, "credentials must be an object")
		return problems
	}
	cr := b.Credentials
	if cr.WebhookURL != "" {
		u, err := url.Parse(cr.WebhookURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			problems = append(problems, "credentials.webhookUrl must be an absolute http(s) URL")
		}
	}
	return problems
}

// validateCredentials checks a credentials body, and a Slack webhook URL
// against the outbound policy: https on SLACK_WEBHOOK_HOSTS unless private
// targets are allowed (the worker checks again before every send).
func (s *Server) validateCredentials(b *credentialsBody) []string {
	problems := b.validate()
	if len(problems) > 0 || b.ProviderID != integration.ProviderSlack || b.Credentials.WebhookURL == "" {
		return problems
	}
	if err := s.Config.TargetPolicy().CheckURL(b.Credentials.WebhookURL, s.Config.SlackWebhookHosts); err != nil {
		problems = append(problems, "credentials.webhookUrl: "+err.Error())
	}
	return problems
}

// resolveChannels validates credential bodies and finds their integrations;
// nothing is written.
func (s *Server) resolveChannels(c echo.Context, bodies []credentialsBody) ([]subscriber.Channel, []string) {
	var out []subscriber.Channel
	var problems []string
	for _, b := range bodies {
		if p := s.validateCredentials(&b); len(p) > 0 {
			problems = append(problems, p...)
			continue
		}
		ch, err := s.resolveChannel(c, b)
		if err != nil {
			var apiErr *Error
			if errors.As(err, &apiErr) {
				problems = append(problems, fmt.Sprint(apiErr.Message))
				continue
			}
			problems = append(problems, "could not resolve integration")
			continue
		}
		out = append(out, ch)
	}
	return out, problems
}

func (s *Server) resolveChannel(c echo.Context, b credentialsBody) (subscriber.Channel, error) {
	env := Env(c)
	in, err := s.Integrations.Resolve(c.Request().Context(), env.ID, b.ProviderID, b.IntegrationIdentifier, true)
	if errors.Is(err, store.ErrNotFound) {
		if b.IntegrationIdentifier != "" {
			return subscriber.Channel{}, errBadRequest(fmt.Sprintf("No active %s integration with identifier %s in this environment", b.ProviderID, b.IntegrationIdentifier))
		}
		return subscriber.Channel{}, errBadRequest(fmt.Sprintf("Subscribers environment (%s) does not have an active %s integration", env.ID.Hex(), b.ProviderID))
	}
	if err != nil {
		return subscriber.Channel{}, errInternal(err)
	}
	return subscriber.Channel{
		IntegrationID: in.ID, ProviderID: in.ProviderID, IntegrationIdentifier: in.Identifier,
		Credentials: subscriber.Credentials{
			WebhookURL: b.Credentials.WebhookURL, Channel: b.Credentials.Channel, DeviceTokens: b.Credentials.DeviceTokens,
		},
	}, nil
}

func (s *Server) setCredentials(c echo.Context, merge bool) error {
	id := c.Param("subscriberId")
	var body credentialsBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if p := s.validateCredentials(&body); len(p) > 0 {
		return errValidation(p)
	}
	env := Env(c)
	if _, err := s.Subscribers.Get(c.Request().Context(), env.ID, id); err != nil {
		return storeErr(err, notFoundSubscriber(id))
	}
	ch, err := s.resolveChannel(c, body)
	if err != nil {
		return err
	}
	if cr := body.Credentials; cr.WebhookURL == "" && cr.Channel == "" && len(cr.DeviceTokens) == 0 {
		merge = false // empty credentials unset the channel's credentials (the SDK's unsetCredentials)
	}
	sub, err := s.Subscribers.SetCredentials(c.Request().Context(), env.ID, id, ch, merge)
	if err != nil {
		return storeErr(err, notFoundSubscriber(id))
	}
	return data(c, http.StatusOK, s.viewSubscriber(sub))
}

// putCredentials updates credentials, keeping stored fields the body leaves
// empty and adding device tokens.
func (s *Server) putCredentials(c echo.Context) error { return s.setCredentials(c, true) }

// patchCredentials replaces the credentials of the channel.
func (s *Server) patchCredentials(c echo.Context) error { return s.setCredentials(c, false) }

func (s *Server) deleteCredentials(c echo.Context) error {
	id := c.Param("subscriberId")
	provider := c.Param("providerId")
	if _, err := s.Subscribers.DeleteCredentials(c.Request().Context(), Env(c).ID, id, provider, c.QueryParam("integrationIdentifier")); err != nil {
		return storeErr(err, notFoundSubscriber(id))
	}
	return c.NoContent(http.StatusNoContent)
}
