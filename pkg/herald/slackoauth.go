package herald

import (
	"github.com/heraldhq/herald/pkg/netguard"
	"github.com/heraldhq/herald/pkg/slackoauth"
)

// NewSlackOAuth builds the "Add to Slack" service. Its HTTP client is bounded
// by HERALD_PROVIDER_TIMEOUT, passes the outbound policy at dial time and
// reads at most 1 MiB of an answer.
func (s *Services) NewSlackOAuth() *slackoauth.Service {
	return slackoauth.New(slackoauth.Deps{
		Logger:       s.Logger,
		Store:        s.Store,
		Cipher:       s.Cipher,
		Environments: s.Environments,
		Integrations: s.Integrations,
		Subscribers:  s.Subscribers,
		HTTPClient: netguard.LimitBodies(s.Config.TargetPolicy().NewClient(netguard.ClientOptions{
			Timeout: s.Config.ProviderTimeout, MaxIdleConnsPerHost: 4}), 1<<20),
		AuthorizeURL: s.Config.SlackAuthorizeURL,
		APIURL:       s.Config.SlackAPIURL,
		PublicURL:    s.Config.PublicURL,
	})
}
