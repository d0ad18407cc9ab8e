package herald

import (
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/ratelimit"
)

// QueueRedisOpt converts go-redis options to asynq's, with short timeouts so
// an unreachable Redis fails a trigger fast (503) instead of hanging it.
func QueueRedisOpt(o *redis.Options) asynq.RedisClientOpt {
	return asynq.RedisClientOpt{
		Network: o.Network, Addr: o.Addr, Username: o.Username, Password: o.Password, DB: o.DB,
		DialTimeout: 2 * time.Second, ReadTimeout: 3 * time.Second, WriteTimeout: 3 * time.Second,
		TLSConfig: o.TLSConfig,
	}
}

// NewWorker builds the delivery worker on the services. senders maps
// provider ids to senders; the apps build them with the providers module's
// registry (pkg cannot import providers). Start it with Start, stop it with Stop.
func (s *Services) NewWorker(senders map[string]notify.Sender) *delivery.Server {
	instrumented := make(map[string]notify.Sender, len(senders))
	for id, snd := range senders {
		instrumented[id] = s.Metrics.InstrumentSender(id, snd)
	}
	senders = instrumented
	w := delivery.NewWorker(delivery.WorkerDeps{
		Logger: s.Logger, Queue: s.Queue, Workflows: s.Workflows, Subscribers: s.Subscribers, Topics: s.Topics,
		Integrations: s.Integrations, Log: s.Deliveries, Cipher: s.Cipher, Templates: s.Templates,
		Senders:      senders,
		Environments: s.Environments, Redis: s.Redis, Limiter: ratelimit.New(s.Redis),
		RetrySchedule: s.Config.RetrySchedule, WebhookRate: s.Config.WebhookRate,
		ShutdownTimeout: s.Config.ShutdownTimeout,
	})
	return delivery.NewServer(s.QueueRedis, w, s.Config.WorkerConcurrency)
}
