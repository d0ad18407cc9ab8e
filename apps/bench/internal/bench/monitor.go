package bench

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// cpuSample is the machine's CPU time (from /proc/stat, in clock ticks) and
// this process's (getrusage) at one moment.
type cpuSample struct {
	total, idle uint64
	process     time.Duration
	at          time.Time
}

func sampleCPU() cpuSample {
	s := cpuSample{at: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.process = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return s
	}
	for i, f := range fields[1:] {
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return cpuSample{at: s.at, process: s.process}
		}
		s.total += v
		if i == 3 || i == 4 { // idle, iowait
			s.idle += v
		}
	}
	return s
}

// CPUUse is how busy the machine's CPUs were between two samples, and how
// many cores this process (Herald, FerretDB, sink, load generator) and
// everything else (PostgreSQL, Redis) used on average.
type CPUUse struct {
	BusyShare    float64 `json:"machineBusyShare"`
	ProcessCores float64 `json:"processCores"`
	OtherCores   float64 `json:"otherCores"`
}

func cpuUse(a, b cpuSample) CPUUse {
	wall := b.at.Sub(a.at).Seconds()
	if b.total <= a.total || wall <= 0 {
		return CPUUse{}
	}
	busy := float64((b.total-a.total)-(b.idle-a.idle)) / float64(b.total-a.total)
	cores := busy * float64(runtime.NumCPU())
	proc := (b.process - a.process).Seconds() / wall
	return CPUUse{BusyShare: busy, ProcessCores: proc, OtherCores: max(cores-proc, 0)}
}
