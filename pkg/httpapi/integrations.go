package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/pkg/integration"
	"github.com/heraldhq/herald/pkg/store"
)

type integrationCredentialsBody struct {
	ClientID      *string `json:"clientId"`
	SecretKey     *string `json:"secretKey"`
	ClientSecret  *string `json:"clientSecret"`
	ApplicationID *string `json:"applicationId"`
	RedirectURL   *string `json:"redirectUrl"`
	HMAC          *bool   `json:"hmac"`
}

type integrationBody struct {
	ProviderID  string                      `json:"providerId"`
	Channel     string                      `json:"channel"`
	Name        *string                     `json:"name"`
	Identifier  *string                     `json:"identifier"`
	Active      *bool                       `json:"active"`
	Credentials *integrationCredentialsBody `json:"credentials"`
}

var identifierRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,99}$`)

func (b *integrationBody) secret() *string {
	if b.Credentials == nil {
		return nil
	}
	if b.Credentials.SecretKey != nil {
		return b.Credentials.SecretKey
	}
	return b.Credentials.ClientSecret
}

func (b *integrationBody) validate(create bool) []string {
	var problems []string
	if create {
		if b.ProviderID == "" {
			problems = append(problems, "providerId should not be empty")
		} else if !integration.KnownProvider(b.ProviderID) {
			problems = append(problems, "providerId must be one of the following values: "+strings.Join(integration.ProviderIDs(), ", "))
		}
		if b.Channel != "" && b.Channel != integration.ChannelChat {
			problems = append(problems, "channel must be one of the following values: chat")
		}
	}
	if b.Identifier != nil && !identifierRE.MatchString(*b.Identifier) {
		problems = append(problems, "identifier must be 1-100 letters, digits, '-', '_' or '.'")
	}
	if b.Name != nil && len(*b.Name) > 200 {
		problems = append(problems, "name must be shorter than or equal to 200 characters")
	}
	if cr := b.Credentials; cr != nil && cr.RedirectURL != nil && *cr.RedirectURL != "" {
		u, err := url.Parse(*cr.RedirectURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, "credentials.redirectUrl must be an absolute http(s) URL")
		}
	}
	return problems
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func (s *Server) createIntegration(c echo.Context) error {
	var body integrationBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if p := body.validate(true); len(p) > 0 {
		return errValidation(p)
	}
	env := Env(c)
	in := &integration.Integration{
		EnvironmentID: env.ID, OrganizationID: env.OrganizationID,
		ProviderID: body.ProviderID, Channel: integration.ChannelChat,
		Name: deref(body.Name), Identifier: deref(body.Identifier), Active: true,
	}
	if body.Active != nil {
		in.Active = *body.Active
	}
	if in.Name == "" {
		in.Name = strings.ToUpper(body.ProviderID[:1]) + body.ProviderID[1:]
	}
	if in.Identifier == "" {
		in.Identifier = integration.NewIdentifier(body.ProviderID)
	}
	if cr := body.Credentials; cr != nil {
		in.Credentials = integration.Credentials{
			ClientID: deref(cr.ClientID), SecretKey: deref(body.secret()), ApplicationID: deref(cr.ApplicationID),
			RedirectURL: deref(cr.RedirectURL), HMAC: deref(cr.HMAC),
		}
	}
	if err := s.Integrations.Create(c.Request().Context(), in); err != nil {
		if errors.Is(err, integration.ErrDuplicateIdentifier) {
			return errConflict("Integration with identifier " + in.Identifier + " already exists")
		}
		return errInternal(err)
	}
	return data(c, http.StatusCreated, viewIntegration(in))
}

func (s *Server) listIntegrations(c echo.Context) error {
	list, err := s.Integrations.List(c.Request().Context(), Env(c).ID, false)
	if err != nil {
		return errInternal(err)
	}
	return data(c, http.StatusOK, viewIntegrations(list))
}

func (s *Server) listActiveIntegrations(c echo.Context) error {
	list, err := s.Integrations.List(c.Request().Context(), Env(c).ID, true)
	if err != nil {
		return errInternal(err)
	}
	return data(c, http.StatusOK, viewIntegrations(list))
}

func notFoundIntegration(id string) string { return "Integration with id " + id + " not found" }

func (s *Server) getIntegration(c echo.Context) error {
	id := c.Param("integrationId")
	oid, err := store.ParseID(id)
	if err != nil {
		return errNotFound(notFoundIntegration(id))
	}
	in, err := s.Integrations.Get(c.Request().Context(), Env(c).ID, oid)
	if err != nil {
		return storeErr(err, notFoundIntegration(id))
	}
	return data(c, http.StatusOK, viewIntegration(in))
}

func (s *Server) updateIntegration(c echo.Context) error {
	id := c.Param("integrationId")
	oid, err := store.ParseID(id)
	if err != nil {
		return errNotFound(notFoundIntegration(id))
	}
	var body integrationBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if p := body.validate(false); len(p) > 0 {
		return errValidation(p)
	}
	u := integration.Update{Name: body.Name, Identifier: body.Identifier, Active: body.Active, SecretKey: body.secret()}
	if cr := body.Credentials; cr != nil {
		u.ClientID, u.ApplicationID, u.RedirectURL, u.HMAC = cr.ClientID, cr.ApplicationID, cr.RedirectURL, cr.HMAC
	}
	in, err := s.Integrations.Update(c.Request().Context(), Env(c).ID, oid, u)
	if errors.Is(err, integration.ErrDuplicateIdentifier) {
		return errConflict("Integration with identifier " + deref(body.Identifier) + " already exists")
	}
	if err != nil {
		return storeErr(err, notFoundIntegration(id))
	}
	return data(c, http.StatusOK, viewIntegration(in))
}

// deleteIntegration removes an integration and answers with the remaining ones, as Novu does.
func (s *Server) deleteIntegration(c echo.Context) error {
	id := c.Param("integrationId")
	oid, err := store.ParseID(id)
	if err != nil {
		return errNotFound(notFoundIntegration(id))
	}
	if err := s.Integrations.Delete(c.Request().Context(), Env(c).ID, oid); err != nil {
		return storeErr(err, notFoundIntegration(id))
	}
	return s.listIntegrations(c)
}
