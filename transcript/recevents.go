package transcript

import (
	"context"
	"strings"
	"sync"

	"github.com/nixfleet/nixfleet-activate/events"
)

// Events wraps inner so that starting a watch is a watch step and each
// notification the pipeline takes from a watch is a wake step, placed
// before the pipeline's next step.
//
// GOTCHA: a channel receive cannot be intercepted, so the recorder gives
// the pipeline its own one-slot channel, fed from the inner watch, and
// counts what it posted against what is still queued: the difference was
// taken. The count is read under the recorder's lock at each step, which
// the pipeline's goroutine reaches only after the receive.
func (r *Recorder) Events(inner events.Source) events.Source { return recSource{r, inner} }

type recSource struct {
	r     *Recorder
	inner events.Source
}

func (s recSource) Watch(ctx context.Context, req events.Request) (events.Watch, error) {
	w, err := s.inner.Watch(ctx, req)
	step := Step{Kind: KindWatch, Path: strings.Join(req.Paths, " "), Arg: req.Unit, Err: s.r.errText(err)}
	if err != nil {
		s.r.add(step)
		return nil, err
	}
	if w.Units() {
		step.Result = "units"
	}
	rw := &recWatch{inner: w, out: make(chan struct{}, 1), done: make(chan struct{})}
	s.r.mu.Lock()
	s.r.addLocked(step)
	s.r.watches = append(s.r.watches, rw)
	s.r.mu.Unlock()
	go rw.forward()
	return rw, nil
}

// recWatch hands the inner watch's notifications on through out,
// counting them.
type recWatch struct {
	inner events.Watch
	out   chan struct{}
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	// posted counts values put on out; taken those known received.
	posted, taken int
}

func (w *recWatch) forward() {
	for {
		select {
		case <-w.done:
			return
		case <-w.inner.C():
			w.post()
		}
	}
}

// post puts one value on out unless one is queued (coalescing).
func (w *recWatch) post() {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case w.out <- struct{}{}:
		w.posted++
	default:
	}
}

// takenSince returns how many values were received since the last call.
func (w *recWatch) takenSince() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	received := w.posted - len(w.out)
	n := received - w.taken
	w.taken = received
	return n
}

func (w *recWatch) C() <-chan struct{} { return w.out }
func (w *recWatch) Units() bool        { return w.inner.Units() }

func (w *recWatch) Close() error {
	w.once.Do(func() { close(w.done) })
	return w.inner.Close()
}

// flushWakes appends one wake step when the pipeline took notifications
// since the previous step (several between two steps coalesce into one,
// as the watch itself coalesces). r.mu is held.
//
// GOTCHA: while disarmed the count is still taken and dropped: a wake the
// pipeline took then (an activate's recovery of an earlier run) is no
// step of the recorded call.
func (r *Recorder) flushWakes() {
	taken := 0
	for _, w := range r.watches {
		taken += w.takenSince()
	}
	if taken > 0 && r.armed {
		r.steps = append(r.steps, Step{Kind: KindWake, At: nonZero(timeSinceStart(r))})
	}
}
