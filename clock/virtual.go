package clock

import (
	"container/heap"
	"time"
)

// Epoch is the virtual clock's default start: a fixed instant so that
// simulated timelines are byte-for-byte reproducible.
var Epoch = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// Virtual is a deterministic, single-goroutine clock for simulation.
//
// After(d) does not block: it advances virtual time by d at once, running
// every event scheduled at or before the new time in (time, insertion) order,
// and returns a channel that already holds the new time. A pipeline that
// polls every 2 s for 300 s therefore costs no wall time and observes the
// simulated world exactly as its events have unfolded.
//
// GOTCHA: Virtual is not safe for concurrent use; the simulator and the
// pipeline run on one goroutine by design (no races, no real sleeps).
type Virtual struct {
	now    time.Time
	seq    uint64
	events eventHeap
	// wall is how far the wall clock (Now) has been stepped away from the
	// steady timeline events run on (StepWall).
	wall time.Duration
	// inAfter is set while After advances; woken ends that advance early
	// (Wake).
	inAfter, woken bool
}

// NewVirtual returns a virtual clock that starts at start (Epoch if zero).
func NewVirtual(start time.Time) *Virtual {
	if start.IsZero() {
		start = Epoch
	}
	return &Virtual{now: start}
}

// Now returns the virtual wall time: the steady time plus every StepWall.
func (v *Virtual) Now() time.Time { return v.now.Add(v.wall) }

// Steady returns the virtual time without wall clock steps: the timeline
// After, Advance and Schedule run on, as a monotonic clock reads it.
func (v *Virtual) Steady() time.Time { return v.now }

// StepWall steps the wall clock by d (negative: backwards), as an NTP step
// or an RTC set at boot does, without moving the steady timeline: no event
// runs, and the durations of After and Schedule are unchanged.
func (v *Virtual) StepWall(d time.Duration) { v.wall += d }

// WallStep returns the sum of every StepWall so far.
func (v *Virtual) WallStep() time.Duration { return v.wall }

// After advances virtual time by d (negative counts as 0), runs due events,
// and returns a buffered channel holding the new time.
//
// An event that calls Wake ends the advance at that event's instant (after
// the other events of that instant): the rest of d is not spent and later
// events stay pending, as a sleeper woken
// by a notification leaves its sleep early.
func (v *Virtual) After(d time.Duration) <-chan time.Time {
	v.inAfter, v.woken = true, false
	v.advance(d)
	v.inAfter, v.woken = false, false
	ch := make(chan time.Time, 1)
	ch <- v.Now()
	return ch
}

// Advance moves virtual time forward by d, running every event due on the
// way at its own scheduled time (Now() reads that time inside the event).
func (v *Virtual) Advance(d time.Duration) {
	// GOTCHA: a command's cost advanced from inside After's events must not be cut short by a Wake meant for After.
	inAfter := v.inAfter
	v.inAfter = false
	v.advance(d)
	v.inAfter = inAfter
}

// Wake ends the After in progress at the current instant, once the event
// calling it returns (called from a scheduled event). Outside an After it
// does nothing: the waiter is awake already.
func (v *Virtual) Wake() {
	if v.inAfter {
		v.woken = true
	}
}

func (v *Virtual) advance(d time.Duration) {
	if d < 0 {
		d = 0
	}
	end := v.now.Add(d)
	for v.events.Len() > 0 && !v.events[0].at.After(end) {
		ev := heap.Pop(&v.events).(*event)
		if ev.at.After(v.now) {
			v.now = ev.at
		}
		ev.fn()
		if v.woken {
			// The rest of this instant's events still run: the waiter sees the instant whole.
			end = v.now
		}
	}
	v.now = end
}

// Schedule runs fn when virtual time reaches now+d (d <= 0: on the next
// Advance, even by zero). Events at the same instant run in the order they
// were scheduled.
func (v *Virtual) Schedule(d time.Duration, fn func()) {
	v.seq++
	heap.Push(&v.events, &event{at: v.now.Add(d), seq: v.seq, fn: fn})
}

// Pending reports how many scheduled events have not run yet.
func (v *Virtual) Pending() int { return v.events.Len() }

type event struct {
	at  time.Time
	seq uint64
	fn  func()
}

type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(*event)) }
func (h *eventHeap) Pop() any {
	old := *h
	n := len(old)
	x := old[n-1]
	*h = old[:n-1]
	return x
}
