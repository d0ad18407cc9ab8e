package herald

import (
	"net/http"

	"github.com/heraldhq/herald/pkg/slackoauth"
)

// NewSlackOAuth builds the "Add to Slack" service. Its HTTP client is bounded
// by HERALD_PROVIDER_TIMEOUT.
func (s *Services) NewSlackOAuth() *slackoauth.Service {
	return slackoauth.New(slackoauth.Deps{
		Logger:       s.Logger,
		Store:        s.Store,
		Cipher:       s.Cipher,
		Environments: s.Environments,
		Integrations: s.Integrations,
		Subscribers:  s.Subscribers,
		HTTPClient:   &http.Client{Timeout: s.Config.ProviderTimeout},
		AuthorizeURL: s.Config.SlackAuthorizeURL,
		APIURL:       s.Config.SlackAPIURL,
		PublicURL:    s.Config.PublicURL,
	})
}
