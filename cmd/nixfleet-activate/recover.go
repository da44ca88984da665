package main

import (
	"context"
	"errors"
	"io"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// recoverEarlier resolves an unfinished earlier run before a new one. It
// returns the recovered outcome (nil when there was none) and whether the
// new run may go on: a recovery that could not finish keeps the record, and
// the new run is refused rather than overwrite it.
func (env *environment) recoverEarlier(ctx context.Context) (*pipeline.Outcome, bool) {
	out, err := env.recordedEarlier(ctx, func(ctx context.Context) (*pipeline.Outcome, error) {
		return pipeline.Recover(ctx, env.deps, env.cfg.opts)
	})
	var corrupt *pipeline.CorruptRecordError
	switch {
	case errors.As(err, &corrupt):
		env.log.Warn("in-flight record unusable, kept aside", "err", corrupt)
		return nil, true
	case isBadEnvironment(err):
		out := pipeline.Outcome{Kind: pipeline.BadEnvironment, Phase: pipeline.PhaseJournal, Reason: err.Error() + "; nothing was changed"}
		return &out, false
	case err != nil:
		env.log.Error("in-flight record unreadable", "err", err)
		return nil, false
	case out != nil && out.Kind == pipeline.Interrupted:
		return out, false
	}
	return out, true
}

// withEarlier runs next after recovering an earlier run, and attaches the
// recovered outcome to next's.
// closure is the basename the new run is for ("" for a rollback).
func (env *environment) withEarlier(ctx context.Context, stdout io.Writer, closure string, next func() pipeline.Outcome) int {
	earlier, ok := env.recoverEarlier(ctx)
	if !ok && earlier != nil && earlier.Kind == pipeline.BadEnvironment {
		earlier.Closure, earlier.Meta = closure, env.cfg.meta
		return env.report(stdout, *earlier)
	}
	if !ok {
		out := pipeline.Outcome{Kind: pipeline.Skipped, Phase: pipeline.PhaseJournal, Closure: closure, Earlier: earlier, Meta: env.cfg.meta,
			Reason: "an unfinished earlier run could not be resolved; its record is kept (see recover)"}
		return env.report(stdout, out)
	}
	out := next()
	out.Earlier = earlier
	return env.report(stdout, out)
}

// recover only resolves an unfinished earlier run, holding the agent lock.
// A record it cannot use is reported as a bad-environment outcome (exit 1):
// a corrupt one after it was kept aside, a link, FIFO or device as found.
func (env *environment) recover(ctx context.Context, stdout io.Writer) int {
	return env.locked(ctx, stdout, "", func() int {
		out, err := env.recorded(ctx, "recover", "", func(ctx context.Context) (*pipeline.Outcome, error) {
			return pipeline.Recover(ctx, env.deps, env.cfg.opts)
		})
		if err != nil {
			env.log.Error("in-flight record unusable", "err", err)
			return env.report(stdout, pipeline.Outcome{Kind: pipeline.BadEnvironment, Phase: pipeline.PhaseJournal,
				Meta: env.cfg.meta, Reason: err.Error() + "; nothing could be recovered from it"})
		}
		if out == nil {
			nothing := map[string]any{"outcome": "nothing-to-recover"}
			if err := printJSON(stdout, nothing); err != nil {
				return env.reportWriteFailure(err, nothing)
			}
			return ExitSuccess
		}
		return env.report(stdout, *out)
	})
}

// isBadEnvironment reports whether err wraps *pipeline.BadEnvironmentError.
func isBadEnvironment(err error) bool {
	var bad *pipeline.BadEnvironmentError
	return errors.As(err, &bad)
}
