// Package metrics writes the node_exporter textfile collector's format
// (Prometheus text exposition format 0.0.4) after each run of
// nixfleet-activate: the last outcome, its start and duration, the
// profile's generation, whether a reboot is pending, counters per outcome
// kind kept across runs in the state directory, and, when the switch lock
// was held, how long and by what kind of holder. The file is written
// atomically with the Prometheus Go client's prometheus.WriteToTextfile
// (client_golang v1.25: a temporary file in the same directory, renamed
// over the target), so node_exporter never reads half a file.
package metrics

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nixfleet/nixfleet-activate/lockdiag"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// Namespace prefixes every metric name.
const Namespace = "nixfleet_activate"

// Run is what one run leaves for monitoring.
type Run struct {
	// Outcome is the run's outcome (its kind, generation, reboot_pending,
	// lock holders).
	Outcome pipeline.Outcome
	// Start is when the run began; Duration how long it took.
	Start    time.Time
	Duration time.Duration
	// Generation is the system profile's generation after the run, 0 when
	// it could not be read (then the gauge is left out, not invented).
	Generation int
}

// Counters are the outcomes counted across runs, by kind; the state
// directory keeps them (CountersFile).
type Counters struct {
	Version  int            `json:"version"`
	Outcomes map[string]int `json:"outcomes"`
}

// CountersFile is the counters' file name in the state directory.
const CountersFile = "metrics-counters.json"

// CountersVersion is the counters file's format version.
const CountersVersion = 1

// Count adds one run of kind to c.
func (c *Counters) Count(kind pipeline.Kind) {
	if c.Outcomes == nil {
		c.Outcomes = map[string]int{}
	}
	c.Outcomes[string(kind)]++
	c.Version = CountersVersion
}

// Registry builds the metrics of run and counters in a fresh registry.
func Registry(run Run, counters Counters) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, v float64) {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help})
		g.Set(v)
		reg.MustRegister(g)
	}
	last := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "last_outcome",
		Help: "1 for the last run's outcome kind (README, Outcome)."}, []string{"kind"})
	last.WithLabelValues(string(run.Outcome.Kind)).Set(1)
	reg.MustRegister(last)
	gauge("last_start_timestamp_seconds", "When the last run started, Unix time in seconds.", float64(run.Start.UnixNano())/1e9)
	gauge("last_duration_seconds", "How long the last run took, in seconds.", run.Duration.Seconds())
	if run.Generation > 0 {
		gauge("generation", "The system profile's generation after the last run.", float64(run.Generation))
	}
	gauge("reboot_pending", "1 when the booted kernel, initrd or modules differ from the closure now current or deferred to.",
		boolValue(run.Outcome.RebootPending || run.Outcome.Kind == pipeline.DeferredPendingReboot))
	total := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "outcomes_total",
		Help: "Runs by outcome kind, kept across runs in the state directory."}, []string{"kind"})
	for kind, n := range counters.Outcomes {
		total.WithLabelValues(kind).Add(float64(n))
	}
	reg.MustRegister(total)
	registerLock(reg, run.Outcome.LockHolders)
	return reg
}

// registerLock adds the switch lock's holders, when the run found it held:
// their age in seconds by holder kind (lockdiag.Kind), the oldest per kind.
func registerLock(reg *prometheus.Registry, holders []lockdiag.Holder) {
	if len(holders) == 0 {
		return
	}
	held := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "switch_lock_held_seconds",
		Help: "How long the switch lock's holder has held it (lock diagnosis), by holder kind; -1 when unknown."}, []string{"holder_kind"})
	ages := map[string]float64{}
	for _, h := range holders {
		age := -1.0
		if h.HeldForS != nil {
			age = float64(*h.HeldForS)
		}
		if prev, ok := ages[string(h.Kind)]; !ok || age > prev {
			ages[string(h.Kind)] = age
		}
	}
	for kind, age := range ages {
		held.WithLabelValues(kind).Set(age)
	}
	reg.MustRegister(held)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// WriteFile writes the registry to path in the textfile format, atomically
// (prometheus.WriteToTextfile). Errors: the registry's gather errors, or
// "writing PATH: CAUSE" for the file system's (naming path, not the
// temporary file beside it).
func WriteFile(path string, reg *prometheus.Registry) error {
	err := prometheus.WriteToTextfile(path, reg)
	// GOTCHA: WriteToTextfile writes PATH<random> and renames it; its
	// errors name that temporary file, which the operator never sees.
	var pathErr *fs.PathError
	var linkErr *os.LinkError
	switch {
	case errors.As(err, &pathErr):
		return fmt.Errorf("writing %s: %w", path, pathErr.Err)
	case errors.As(err, &linkErr):
		return fmt.Errorf("writing %s: %w", path, linkErr.Err)
	}
	return err
}
