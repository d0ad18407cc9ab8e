package bench

import (
	"context"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/event"
)

// cmdStat is how often a database command ran and for how long in total
// (as the client saw it: round trip included).
type cmdStat struct {
	N     int64
	Total time.Duration
}

// dbMonitor counts the database commands of Herald's client by name.
type dbMonitor struct {
	mu    sync.Mutex
	byCmd map[string]cmdStat
}

func newDBMonitor() *dbMonitor { return &dbMonitor{byCmd: map[string]cmdStat{}} }

func (m *dbMonitor) add(name string, d time.Duration) {
	m.mu.Lock()
	s := m.byCmd[name]
	s.N++
	s.Total += d
	m.byCmd[name] = s
	m.mu.Unlock()
}

// CommandMonitor is the mongo-driver hook recording every finished command.
func (m *dbMonitor) CommandMonitor() *event.CommandMonitor {
	return &event.CommandMonitor{
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) { m.add(e.CommandName, e.Duration) },
		Failed:    func(_ context.Context, e *event.CommandFailedEvent) { m.add(e.CommandName, e.Duration) },
	}
}

// snapshot copies the counters.
func (m *dbMonitor) snapshot() map[string]cmdStat {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]cmdStat, len(m.byCmd))
	for k, v := range m.byCmd {
		out[k] = v
	}
	return out
}

// writeCommands are the commands that change documents.
var writeCommands = map[string]bool{"insert": true, "update": true, "delete": true, "findAndModify": true}

// dbDelta is what the database did between two snapshots.
type dbDelta struct {
	ByCmd      map[string]cmdStat
	Writes     cmdStat
	Reads      cmdStat
	AllButPing cmdStat
}

func deltaOf(before, after map[string]cmdStat) dbDelta {
	d := dbDelta{ByCmd: map[string]cmdStat{}}
	for k, a := range after {
		b := before[k]
		s := cmdStat{N: a.N - b.N, Total: a.Total - b.Total}
		if s.N == 0 {
			continue
		}
		d.ByCmd[k] = s
		if k == "ping" || k == "hello" || k == "isMaster" || k == "endSessions" {
			continue
		}
		d.AllButPing.N += s.N
		d.AllButPing.Total += s.Total
		if writeCommands[k] {
			d.Writes.N += s.N
			d.Writes.Total += s.Total
		} else {
			d.Reads.N += s.N
			d.Reads.Total += s.Total
		}
	}
	return d
}
