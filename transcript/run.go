package transcript

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/fsview"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// Deps builds the pipeline's seams as the binary builds them for the real
// host (real backend, file journal, last-activation and confirmation
// stores in the state directory), every one answered by p. log nil
// discards.
func (p *Replayer) Deps(log *slog.Logger) pipeline.Deps {
	h := p.t.Header
	backend := real.New(real.Config{
		Runner:            p.Runner(),
		Locker:            p.Locker(),
		LockDiag:          p.LockDiag(),
		Substituters:      h.Backend.Substituters,
		TrustedPublicKeys: h.Backend.TrustedPublicKeys,
		RealiseTimeout:    h.Backend.RealiseTimeout,
		CommandTimeout:    h.Backend.CommandTimeout,
		Logger:            log,
	})
	view := fsview.New(p.Raw(""))
	d := pipeline.Deps{Nix: backend, Backend: backend, FS: view, Clock: p.Clock(), Log: log,
		Journal:        pipeline.FileJournal{FS: view, Dir: h.StateDir, Now: time.Now, UID: h.UID},
		LastActivation: pipeline.FileLastActivation{FS: view, Dir: h.StateDir, UID: h.UID},
		Confirm:        pipeline.FileConfirm{FS: view, Dir: h.StateDir, UID: h.UID}}
	if h.Events {
		d.Events = p.Events()
	}
	return d
}

// Call runs the pipeline call a header names with deps: Activate of the
// target, Rollback or Recover, with the header's options. It returns the
// outcome (nil: Recover found nothing) and Recover's error.
func Call(ctx context.Context, h Header, deps pipeline.Deps) (*pipeline.Outcome, error) {
	switch h.Command {
	case "activate":
		out := pipeline.Activate(ctx, deps, h.Target, h.Options)
		return &out, nil
	case "rollback":
		out := pipeline.Rollback(ctx, deps, h.Target.Meta, h.Options)
		return &out, nil
	case "recover":
		return pipeline.Recover(ctx, deps, h.Options)
	}
	return nil, fmt.Errorf("transcript: unknown command %q (want activate, rollback or recover)", h.Command)
}

// Result is what a replay produced.
type Result struct {
	// Outcome is the replayed run's outcome (nil: nothing to recover).
	Outcome *pipeline.Outcome
	// OutcomeJSON is Outcome as the transcript stores it.
	OutcomeJSON json.RawMessage
	// Steps is how many steps the run used, of Total.
	Steps, Total int
}

// Replay runs the pipeline call of t against t itself and checks that it
// asked every step in order and ended with the recorded outcome. Errors:
// *Divergence (a call the transcript does not have, in another order or
// with other arguments, or steps never asked for), *OutcomeMismatch, or
// an unknown command.
func Replay(ctx context.Context, t *Transcript, log *slog.Logger) (*Result, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := NewReplayer(t)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.stop = cancel
	out, runErr := Call(ctx, t.Header, p.Deps(log))
	if runErr != nil && p.Divergence() == nil && t.Error == "" {
		return nil, runErr
	}
	res := &Result{Outcome: out, Steps: p.Consumed(), Total: len(t.Steps)}
	res.OutcomeJSON = outcomeJSON(out)
	if err := p.Finish(); err != nil {
		return res, err
	}
	return res, CompareOutcomes(t.Outcome, res.OutcomeJSON)
}

// outcomeJSON encodes an outcome as the recorder does (meta redacted).
func outcomeJSON(out *pipeline.Outcome) json.RawMessage {
	if out == nil {
		return json.RawMessage("null")
	}
	o := *out
	o.Meta = RedactMeta(o.Meta)
	b, err := json.Marshal(o)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}
