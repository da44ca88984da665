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
func TestUnitWaitBacksOffForOneIntervalWithoutUnitEvents(t *testing.T) {
	v := clock.NewVirtual(time.Time{})
	r := newRun(Deps{Clock: v}, Options{PollInterval: 300 * time.Millisecond})
	u := &unitReader{unit: "sw"}
	assert.Equal(t, 300*time.Millisecond, r.unitWait(u, time.Hour), "no watch: the interval")
	r.changes = make(chan struct{})
	var waits []time.Duration
	for range 9 {
		d := r.unitWait(u, time.Hour)
		waits = append(waits, d)
		v.Advance(d)
	}
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{10 * ms, 20 * ms, 40 * ms, 50 * ms, 50 * ms, 50 * ms, 50 * ms, 50 * ms, 300 * ms}, waits)
	assert.Equal(t, 5*ms, r.unitWait(u, 5*ms), "never past the budget")
	r.watch = unitsWatch{}
	assert.Equal(t, 300*time.Millisecond, r.unitWait(&unitReader{unit: "sw"}, time.Hour), "unit events: the interval")
}

// unitsWatch is a watch that reports the unit's end.
type unitsWatch struct{}

func (unitsWatch) C() <-chan struct{} { return nil }
func (unitsWatch) Units() bool        { return true }
func (unitsWatch) Close() error       { return nil }
