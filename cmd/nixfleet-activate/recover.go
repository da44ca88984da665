package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// recoverEarlier resolves an unfinished earlier run before a new one. It
// returns the recovered outcome (nil when there was none) and whether the
// new run may go on: a recovery that could not finish keeps the record, and
// the new run is refused rather than overwrite it.
func (env *environment) recoverEarlier(ctx context.Context) (*pipeline.Outcome, bool) {
	out, err := pipeline.Recover(ctx, env.deps, env.cfg.opts)
	var corrupt *pipeline.CorruptRecordError
	switch {
	case errors.As(err, &corrupt):
		env.log.Warn("in-flight record unusable, kept aside", "err", corrupt)
		return nil, true
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
	if !ok {
		out := pipeline.Outcome{Kind: pipeline.Skipped, Phase: pipeline.PhaseJournal, Closure: closure, Earlier: earlier, Meta: env.cfg.meta,
			Reason: "an unfinished earlier run could not be resolved; its record is kept (see recover)"}
		return env.report(stdout, out)
	}
	out := next()
	out.Earlier = earlier
	return env.report(stdout, out)
}

// recover only resolves an unfinished earlier run.
func (env *environment) recover(ctx context.Context, stdout io.Writer) int {
	out, err := pipeline.Recover(ctx, env.deps, env.cfg.opts)
	if err != nil {
		fmt.Fprintf(env.stderr, "nixfleet-activate: %v\n", err)
		var corrupt *pipeline.CorruptRecordError
		if errors.As(err, &corrupt) {
			return ExitSuccess
		}
		return ExitInternal
	}
	if out == nil {
		if err := printJSON(stdout, map[string]any{"outcome": "nothing-to-recover"}); err != nil {
			return ExitInternal
		}
		return ExitSuccess
	}
	return env.report(stdout, *out)
}
