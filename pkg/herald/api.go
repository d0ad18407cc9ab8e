package herald

import (
	"context"

	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/httpapi"
	"github.com/heraldhq/herald/pkg/ratelimit"
)

// NewAPI builds the HTTP API on the services.
func (s *Services) NewAPI() *httpapi.Server {
	oauth := s.NewSlackOAuth()
	srv := httpapi.New(httpapi.Deps{
		Logger:       s.Logger,
		Config:       s.Config,
		Store:        s.Store,
		Cipher:       s.Cipher,
		Environments: s.Environments,
		Subscribers:  s.Subscribers,
		Integrations: s.Integrations,
		Topics:       s.Topics,
		Workflows:    s.Workflows,
		Templates:    s.Templates,
		Deliveries:   s.Deliveries,
		Queue:        s.Queue,
		Redis:        s.Redis,
		Ready:        func(ctx context.Context) error { return s.Ready(ctx) },
		SlackOAuth:   oauth,
		Metrics:      s.Metrics,
		RateLimiter:  ratelimit.New(s.Redis),
		Canceler:     &delivery.Canceler{Logger: s.Logger, Log: s.Deliveries, Inspector: s.Inspector, Redis: s.Redis},
	})
	dash, err := s.NewDashboard(oauth)
	if err != nil {
		// The templates are embedded: a parse error is a build defect that
		// every test run catches.
		panic("herald: dashboard templates: " + err.Error())
	}
	dash.Register(srv.Echo())
	return srv
}
