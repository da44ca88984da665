package transcript

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// Recorder collects the steps of one run from its recording decorators
// (Runner, Raw, Locker, Clock, Events, LockDiag). It records only while
// armed (Arm .. Disarm), so a binary can wrap its seams once and keep the
// steps of the pipeline call alone. Safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	armed bool
	start time.Time
	steps []Step
	notes []string
	red   *Redactor
	// watches are the running event watches (recevents.go), checked at
	// every step for notifications the pipeline took.
	watches []*recWatch
	// layers are the wrapped filesystem layers' optional interfaces, by
	// step path prefix (Header.Layers).
	layers map[string][]string
}

// NewRecorder returns a disarmed Recorder whose texts (argv, output, file
// contents) pass through red; nil redacts only the generic patterns.
func NewRecorder(red *Redactor) *Recorder {
	if red == nil {
		red = &Redactor{}
	}
	return &Recorder{red: red}
}

// Arm starts recording; the first Arm sets the start time that step
// offsets and clock readings are relative to.
func (r *Recorder) Arm() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushWakes() // disarmed: drops the wake-ups taken before this call
	r.armed = true
	if r.start.IsZero() {
		r.start = time.Now()
	}
}

// Reset drops the steps and notes recorded so far and restarts the clock
// at the next Arm: the recorder then records a new pipeline call (the
// binary records an activate's recovery of an earlier run on its own).
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps, r.notes, r.start = nil, nil, time.Time{}
}

// Disarm stops recording (the steps so far are kept).
func (r *Recorder) Disarm() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.armed = false
}

// Note adds a warning to the transcript (a step that could not be
// recorded faithfully).
func (r *Recorder) Note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// add appends s (stamped with its offset) when armed, after the wake-ups
// the pipeline took since the previous step.
func (r *Recorder) add(s Step) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addLocked(s)
}

func (r *Recorder) addLocked(s Step) {
	if !r.armed {
		return
	}
	r.flushWakes()
	if s.At == 0 {
		s.At = time.Since(r.start)
	}
	r.steps = append(r.steps, s)
}

// Transcript returns what was recorded, with h (Start set from the
// recording) and the outcome (nil: nothing to recover) or a Recover error.
// The outcome's meta is redacted.
func (r *Recorder) Transcript(h Header, out *pipeline.Outcome, runErr error) *Transcript {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushWakes()
	h.Start = r.start
	h.Layers = copyLayers(r.layers)
	h.Target.Meta = RedactMeta(h.Target.Meta)
	t := &Transcript{Header: h, Steps: append([]Step(nil), r.steps...), Notes: append([]string(nil), r.notes...)}
	if out != nil {
		o := *out
		o.Meta = RedactMeta(o.Meta)
		if o.Earlier != nil {
			e := *o.Earlier
			e.Meta = RedactMeta(e.Meta)
			o.Earlier = &e
		}
		b, err := json.Marshal(o)
		if err != nil {
			t.Notes = append(t.Notes, "outcome not encodable: "+err.Error())
		}
		t.Outcome = json.RawMessage(r.red.Bytes(b))
	} else {
		t.Outcome = json.RawMessage("null")
	}
	if runErr != nil {
		t.Error = r.red.Text(runErr.Error())
	}
	return t
}

// errText renders an error for a step: "errno=NAME" when it wraps an
// errno Linux names, else its (redacted) message.
func (r *Recorder) errText(err error) string {
	if err == nil {
		return ""
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		if name := unix.ErrnoName(errno); name != "" {
			return "errno=" + name
		}
	}
	return r.red.Text(err.Error())
}

// offset renders t as the wall-clock duration since the recording's start.
// GOTCHA: Round(0) drops the monotonic readings: their difference drifts
// from the wall clock's (NTP slews it) by microseconds, and a replayed time
// (Start plus offset) must equal the recorded wall time to the nanosecond,
// as the records' started_at are compared with Equal.
func (r *Recorder) offset(t time.Time) string { return t.Round(0).Sub(r.start.Round(0)).String() }

func timeSinceStart(r *Recorder) time.Duration { return time.Since(r.start) }

// copyLayers copies a layers map; nil when empty.
func copyLayers(in map[string][]string) map[string][]string {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string][]string, len(in))
	for k, v := range in {
		out[k] = append([]string(nil), v...)
	}
	return out
}
