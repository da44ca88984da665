package main

import (
	"time"

	"github.com/nixfleet/nixfleet-activate/metrics"
	"github.com/nixfleet/nixfleet-activate/nixprofile"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// writeMetrics counts the outcome in the state directory's counters and
// writes the --metrics-file (nothing without the flag). A failure is
// logged, never the run's outcome: monitoring must not change the verdict.
func (env *environment) writeMetrics(out pipeline.Outcome) {
	if env.cfg.metricsFile == "" {
		return
	}
	var counters metrics.Counters
	if _, err := pipeline.LoadStateJSON(env.deps.FS, env.cfg.stateDir, metrics.CountersFile, geteuid(), &counters); err != nil {
		env.log.Warn("metrics counters unreadable, counting from zero", "err", err)
		counters = metrics.Counters{}
	}
	counters.Count(out.Kind)
	if err := pipeline.SaveStateJSON(env.deps.FS, env.cfg.stateDir, metrics.CountersFile, geteuid(), counters); err != nil {
		env.log.Warn("metrics counters not saved", "err", err)
	}
	duration := time.Duration(out.ElapsedMS) * time.Millisecond
	run := metrics.Run{Outcome: out, Start: env.deps.Clock.Now().Add(-duration), Duration: duration,
		Generation: env.profileGeneration()}
	if err := metrics.WriteFile(env.cfg.metricsFile, metrics.Registry(run, counters)); err != nil {
		env.log.Error("metrics file not written", "path", env.cfg.metricsFile, "err", err)
	}
}

// profileGeneration reads the system profile's generation from its link
// (nix-env's "system-N-link"); 0 when unreadable.
func (env *environment) profileGeneration() int {
	profile := env.cfg.opts.WithDefaults().Profile
	target, err := env.deps.FS.Readlink(profile)
	if err != nil {
		return 0
	}
	n, _ := nixprofile.Generation(profile, target)
	return n
}
