package embedded

import (
	"time"

	"github.com/alicebob/miniredis/v2"
)

// Redis is an in-process Redis (miniredis) whose clock follows the wall
// clock, so key expiries (asynq leases, rate limits) happen. It keeps nothing
// on disk: development and tests only.
type Redis struct {
	mr   *miniredis.Miniredis
	stop chan struct{}
	done chan struct{}
}

// StartRedis starts miniredis on a free loopback port.
func StartRedis() (*Redis, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return nil, err
	}
	r := &Redis{mr: mr, stop: make(chan struct{}), done: make(chan struct{})}
	go r.tick()
	return r, nil
}

// tick advances miniredis's clock, which otherwise never expires keys.
func (r *Redis) tick() {
	defer close(r.done)
	const step = 100 * time.Millisecond
	t := time.NewTicker(step)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.mr.FastForward(step)
		}
	}
}

// Addr is host:port.
func (r *Redis) Addr() string { return r.mr.Addr() }

// URL is a redis:// URL for the server.
func (r *Redis) URL() string { return "redis://" + r.mr.Addr() + "/0" }

// Close stops the server.
func (r *Redis) Close() {
	close(r.stop)
	<-r.done
	r.mr.Close()
}
