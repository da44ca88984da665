package pipeline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/nixfleet/nixfleet-activate/clock"
)

// A watch that does not report the unit's end (inotify only) reads the
// unit on a 10 ms backoff doubling to 50 ms for one interval, then every
// interval; with unit events, or without a watch, every interval.
func TestUnitStepBacksOffForOneIntervalWithoutUnitEvents(t *testing.T) {
	v := clock.NewVirtual(time.Time{})
	r := newRun(Deps{Clock: v}, Options{PollInterval: 300 * time.Millisecond})
	u := &unitReader{unit: "sw"}
	assert.Equal(t, 300*time.Millisecond, r.unitStep(u), "no watch: the interval")
	r.changes = make(chan struct{})
	var waits []time.Duration
	for range 9 {
		d := r.unitStep(u)
		waits = append(waits, d)
		v.Advance(d)
	}
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{10 * ms, 20 * ms, 40 * ms, 50 * ms, 50 * ms, 50 * ms, 50 * ms, 50 * ms, 300 * ms}, waits)
	assert.Equal(t, 5*ms, u.wait(v.Now(), r.unitStep(u), v.Now().Add(5*ms)), "never past the budget")
	r.watch = unitsWatch{}
	assert.Equal(t, 300*time.Millisecond, r.unitStep(&unitReader{unit: "sw"}), "unit events: the interval")
}

// unitsWatch is a watch that reports the unit's end.
type unitsWatch struct{}

func (unitsWatch) C() <-chan struct{} { return nil }
func (unitsWatch) Units() bool        { return true }
func (unitsWatch) Close() error       { return nil }

// The reads are on a fixed cadence: the next round is due one step after
// the last began, the reads' cost coming out of the wait; a read that
// outlasted its step leaves no wait; an event's wake-up (unknown start)
// and the first wait count step from now; never past the deadline.
func TestUnitReaderWaitKeepsAFixedCadence(t *testing.T) {
	ms := time.Millisecond
	t0 := time.Unix(0, 0)
	end := t0.Add(time.Hour)
	u := &unitReader{unit: "sw"}
	assert.Equal(t, 100*ms, u.wait(t0, 100*ms, end), "first: step from now")
	assert.Equal(t, 85*ms, u.wait(t0.Add(115*ms), 100*ms, end), "a 15 ms read: 85 ms")
	assert.Equal(t, 0*ms, u.wait(t0.Add(25*time.Second), 25*ms, end), "a read longer than the retry step: at once")
	assert.Equal(t, 25*ms, u.wait(t0.Add(25*time.Second), 25*ms, end), "the cadence restarts at the late round, no catch-up burst")
	assert.Equal(t, 10*ms, u.wait(t0.Add(25*time.Second+15*ms), 100*ms, t0.Add(25*time.Second+25*ms)), "never past the deadline")
	assert.Equal(t, 0*ms, u.wait(t0.Add(26*time.Second), 100*ms, t0.Add(25*time.Second)), "never negative")
	assert.Equal(t, 100*ms, u.wait(t0, 100*ms, end), "the wall clock stepped back 26 s: one wait of step, no more")
	u.due = time.Time{}
	assert.Equal(t, 100*ms, u.wait(t0.Add(30*time.Second), 100*ms, end), "after an event's wake-up: step from now")
}
