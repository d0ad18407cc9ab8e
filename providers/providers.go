package providers

import (
	"log/slog"

	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/integration"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/providers/slack"
)

// New builds every provider's sender, keyed by provider id.
func New(cfg config.Config, log *slog.Logger) map[string]notify.Sender {
	return map[string]notify.Sender{
		integration.ProviderSlack: slack.New(slack.NewGuardedClient(cfg.TargetPolicy(), cfg.ProviderTimeout),
			log.With("provider", integration.ProviderSlack)).
			WithGuard(slack.Guard{Policy: cfg.TargetPolicy(), Hosts: cfg.SlackWebhookHosts}),
	}
}
