package transcript

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Replayer answers the pipeline's seams from a transcript, step by step in
// the recorded order. The first call that does not match the next step
// (another kind, path, argument or argv) is a Divergence; from then on
// every seam answers with an error or a zero value, so the run ends soon.
// Safe for concurrent use; the pipeline calls it from one goroutine.
type Replayer struct {
	t  *Transcript
	mu sync.Mutex
	// next is the index of the next step to answer.
	next    int
	div     *Divergence
	lastNow time.Time
	// watch is the running replayed event watch (nil: none).
	watch *replayWatch
	// stop cancels the replayed run's context at the first divergence or
	// at an interrupt step.
	stop context.CancelFunc
	// interrupted: an interrupt step was taken; sleeps never fire after
	// it, so the pipeline's select sees the context's end, as it did.
	interrupted bool
}

// ErrDiverged is returned by every seam of a Replayer after the run
// diverged from the transcript.
var ErrDiverged = errors.New("replay diverged from the transcript")

// NewReplayer returns a Replayer at the transcript's first step.
func NewReplayer(t *Transcript) *Replayer {
	return &Replayer{t: t, lastNow: t.Header.Start, stop: func() {}}
}

// diverge records the first divergence and ends the run's context.
// GOTCHA: without it a wait loop would spin for ever: after a divergence
// the clock no longer advances.
func (p *Replayer) diverge(d *Divergence) {
	p.div = d
	p.stop()
}

// call is what the pipeline asked, to match against a step.
type call struct {
	kind      Kind
	path, arg string
	argv      []string
}

// take matches c against the next step and returns it; ok is false (and
// the Divergence recorded) when it does not match. woke reports that a
// wake step followed and was posted on the running watch.
func (p *Replayer) take(c call) (s Step, woke, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.div != nil {
		return Step{}, false, false
	}
	if p.next >= len(p.t.Steps) {
		p.diverge(&Divergence{Index: p.next, Got: c, steps: p.t.Steps, Reason: "the transcript has no more steps"})
		return Step{}, false, false
	}
	p.takeInterrupt()
	s = p.t.Steps[p.next]
	if reason := mismatch(s, c); reason != "" {
		p.diverge(&Divergence{Index: p.next, Got: c, steps: p.t.Steps, Reason: reason})
		return Step{}, false, false
	}
	p.next++
	// LOADBEARING: a wake the recording placed after this step must be on
	// the watch's channel before the pipeline's next receive or poll of it.
	if p.next < len(p.t.Steps) && p.t.Steps[p.next].Kind == KindWake {
		p.next++
		woke = true
		if p.watch != nil {
			p.watch.post()
		}
	}
	p.takeInterrupt()
	return s, woke, true
}

// takeInterrupt takes an interrupt step at the next position and ends the
// run's context, as the signal did while the recorded step ran or right
// after it. p.mu is held.
func (p *Replayer) takeInterrupt() {
	for p.next < len(p.t.Steps) && p.t.Steps[p.next].Kind == KindInterrupt {
		p.next++
		p.interrupted = true
		p.stop()
	}
}

// isInterrupted reports whether an interrupt step was taken.
func (p *Replayer) isInterrupted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.interrupted
}

// mismatch says how c differs from s, "" when it matches.
func mismatch(s Step, c call) string {
	switch {
	case s.Kind != c.kind:
		return "another kind of step"
	case c.kind == KindRun && s.Cmd != nil && !slices.Equal(s.Cmd.Argv, c.argv):
		return "another command line"
	case s.Path != c.path:
		return "another path"
	case s.Arg != c.arg:
		return "another argument"
	}
	return ""
}

// Divergence returns the first divergence, nil while the run follows the
// transcript.
func (p *Replayer) Divergence() *Divergence {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.div
}

// Finish reports a divergence, or the steps the run never asked for: a
// run that ends early diverges too. Trailing wake and interrupt steps
// are not asked for (a signal after the last step).
func (p *Replayer) Finish() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.div != nil {
		return p.div
	}
	for i := p.next; i < len(p.t.Steps); i++ {
		if k := p.t.Steps[i].Kind; k != KindWake && k != KindInterrupt {
			p.div = &Divergence{Index: i, steps: p.t.Steps, Reason: "the run ended; the transcript goes on", Ended: true}
			return p.div
		}
	}
	return nil
}

// Consumed returns how many steps the run has used.
func (p *Replayer) Consumed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next
}

// waitTimeout is the answer to a command the recording saw time out: the
// backend decides a timeout from its own context's deadline, so the
// replay waits for it.
func waitTimeout(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}
