package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/clock"
	"github.com/nixfleet/nixfleet-activate/events"
	"github.com/nixfleet/nixfleet-activate/fsview"
	"github.com/nixfleet/nixfleet-activate/lockdiag"
	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
	"github.com/nixfleet/nixfleet-activate/transcript"
)

// recording is --record FILE: the real seams wrapped in the transcript
// package's recording decorators. A nil *recording passes every seam
// through unchanged.
type recording struct {
	file string
	rec  *transcript.Recorder
	red  *transcript.Redactor
}

// checkRecord refuses --record where the transcript could never replay.
// A dry run's answers come from the planning host (backends/plan), and a
// --sim run's from the simulated host, whose backend asks no command a
// replay (the real backend's seams) could answer: both are usage errors.
func (c *config) checkRecord() error {
	switch {
	case c.record == "":
		return nil
	case c.dryRun:
		return errors.New("--record applies to a real run: a --dry-run's answers come from the planning host, which a replay cannot ask")
	case c.sim != "":
		return errors.New("--record applies to a real run: a --sim run's host is simulated (its scenario already replays it)")
	}
	return nil
}

// newRecording returns nil unless --record was given (real backend only).
func newRecording(cfg config) *recording {
	if cfg.record == "" {
		return nil
	}
	red := transcript.NewRedactor(strings.Fields(cfg.substituters), cfg.meta)
	return &recording{file: cfg.record, rec: transcript.NewRecorder(red), red: red}
}

func (r *recording) runner(inner proc.Runner) proc.Runner {
	if r == nil {
		return inner
	}
	return r.rec.Runner(inner)
}

func (r *recording) locker(inner real.Locker) real.Locker {
	if r == nil {
		return inner
	}
	return r.rec.Locker(inner)
}

func (r *recording) lockDiag(inner lockdiag.Host) lockdiag.Host {
	if r == nil {
		return inner
	}
	return r.rec.LockDiag(inner)
}

func (r *recording) view(root string) *fsview.View {
	if r == nil {
		return fsview.NewOS(root)
	}
	return fsview.New(r.rec.Raw(fsview.NewOSRaw(root), ""))
}

func (r *recording) clock(inner clock.Clock) clock.Clock {
	if r == nil {
		return inner
	}
	return r.rec.Clock(inner)
}

func (r *recording) events(inner events.Source) events.Source {
	if r == nil || inner == nil {
		return inner
	}
	return r.rec.Events(inner)
}

// header describes this run for the transcript.
func (env *environment) recordHeader(command, closure string) transcript.Header {
	cfg, red := env.cfg, env.rec.red
	return transcript.Header{
		Tool:     "nixfleet-activate " + version,
		Command:  command,
		Target:   pipeline.Target{Closure: closure, Meta: cfg.meta},
		Options:  cfg.opts.WithDefaults(),
		StateDir: cfg.stateDir,
		UID:      geteuid(),
		Events:   !cfg.pollOnly,
		Backend: transcript.BackendConfig{
			Substituters:      red.Strings(strings.Fields(cfg.substituters)),
			TrustedPublicKeys: strings.Fields(cfg.trustedKeys),
			RealiseTimeout:    cfg.realiseTimeout,
			CommandTimeout:    cfg.commandTimeout,
		},
	}
}

// recorded runs one pipeline call with the recorder armed and writes the
// transcript to --record's FILE once it returns, whatever the outcome. The
// call gets a context whose end (SIGINT, SIGTERM) is recorded first
// (transcript.Recorder.Interruptible). A transcript that cannot be written
// is a warning on stderr, never another outcome.
func (env *environment) recorded(ctx context.Context, command, closure string, call func(context.Context) (*pipeline.Outcome, error)) (*pipeline.Outcome, error) {
	if env.rec == nil {
		return call(ctx)
	}
	return env.recordTo(ctx, env.rec.file, command, closure, call, func(*pipeline.Outcome, error) bool { return true })
}

// recordedEarlier is recorded for an activate's or rollback's recovery of
// an unfinished earlier run (recoverEarlier): a recovery that found a
// record is written to earlierFile(FILE), as a recover of its own, so the
// run that follows keeps FILE.
func (env *environment) recordedEarlier(ctx context.Context, call func(context.Context) (*pipeline.Outcome, error)) (*pipeline.Outcome, error) {
	if env.rec == nil {
		return call(ctx)
	}
	found := func(out *pipeline.Outcome, err error) bool { return out != nil || err != nil }
	return env.recordTo(ctx, earlierFile(env.rec.file), "recover", "", call, found)
}

// earlierFile is where the recovery of an earlier run is recorded: FILE
// with ".earlier" before its extension (run.txtar: run.earlier.txtar).
func earlierFile(file string) string {
	ext := filepath.Ext(file)
	return strings.TrimSuffix(file, ext) + ".earlier" + ext
}

// recordTo records call into file when keep says so.
func (env *environment) recordTo(ctx context.Context, file, command, closure string,
	call func(context.Context) (*pipeline.Outcome, error), keep func(*pipeline.Outcome, error) bool) (*pipeline.Outcome, error) {
	rec := env.rec.rec
	rec.Reset()
	rec.Arm()
	ictx, stop := rec.Interruptible(ctx)
	out, err := call(ictx)
	stop()
	rec.Disarm()
	if !keep(out, err) {
		return out, err
	}
	h := env.recordHeader(command, closure)
	if out != nil && file == env.rec.file { // an earlier run's recovery is not what the binary exits with
		code := exitCode(out.Kind)
		h.Exit = &code
	}
	t := rec.Transcript(h, out, err)
	if werr := os.WriteFile(file, transcript.Format(t), 0o600); werr != nil {
		env.log.Warn("transcript not written (--record)", "file", file, "err", werr)
		fmt.Fprintf(env.stderr, "nixfleet-activate: warning: --record: %v\n", werr)
	}
	return out, err
}

// recordedOutcome is recorded for the calls that always return an outcome.
func (env *environment) recordedOutcome(ctx context.Context, command, closure string, call func(context.Context) pipeline.Outcome) pipeline.Outcome {
	out, _ := env.recorded(ctx, command, closure, func(ctx context.Context) (*pipeline.Outcome, error) {
		o := call(ctx)
		return &o, nil
	})
	return *out
}
