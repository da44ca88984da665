package events

import (
	"context"
	"path"
	"slices"
	"sync"
)

// Waker ends a virtual sleep early (clock.Virtual.Wake).
type Waker interface{ Wake() }

// Mem delivers the changes its owner reports (Changed, UnitEnded) to the
// matching watches at once, and wakes the virtual clock so that a waiter
// sleeping through that instant observes the change at it. It is safe for
// concurrent use, though the simulator calls it from one goroutine.
type Mem struct {
	mu      sync.Mutex
	waker   Waker
	watches []*memWatch
	// failNext makes the next Watch calls fail (FailWatches).
	failNext []error
	// failUnits makes the next Watch calls start without their unit
	// (FailUnitWatches).
	failUnits []error
	// drop loses the next notifications (DropNext).
	drop int
	// Delivered counts the notifications posted to watches, Dropped the
	// ones lost on purpose.
	Delivered, Dropped int
}

// NewMem returns a source that wakes w (nil: nothing) on every delivered
// change.
func NewMem(w Waker) *Mem { return &Mem{waker: w} }

// FailWatches makes the next Watch calls return err, one call each.
func (m *Mem) FailWatches(err ...error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failNext = append(m.failNext, err...)
}

// FailUnitWatches makes the next Watch calls that ask for a unit start on
// their paths alone, one call each: Units is false and UnitErr returns err
// (a D-Bus subscription that failed), so the unit's end is not delivered.
func (m *Mem) FailUnitWatches(err ...error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failUnits = append(m.failUnits, err...)
}

// DropNext loses the next n notifications that match a watch (an event
// queue overflow, a missed signal).
func (m *Mem) DropNext(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.drop += n
}

// Watch implements Source.
func (m *Mem) Watch(_ context.Context, req Request) (Watch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.failNext) > 0 {
		err := m.failNext[0]
		m.failNext = m.failNext[1:]
		return nil, err
	}
	w := &memWatch{m: m, req: req, sig: newSignal()}
	if req.Unit != "" && len(m.failUnits) > 0 {
		w.unitErr, m.failUnits = m.failUnits[0], m.failUnits[1:]
	}
	for _, p := range req.Paths {
		w.paths = append(w.paths, path.Clean(p))
	}
	m.watches = append(m.watches, w)
	return w, nil
}

// Changed reports that the entry name (a clean absolute name) was created,
// replaced or removed.
func (m *Mem) Changed(name string) {
	m.deliver(func(w *memWatch) bool { return slices.Contains(w.paths, name) })
}

// UnitEnded reports that unit's main process has ended.
func (m *Mem) UnitEnded(unit string) {
	m.deliver(func(w *memWatch) bool { return w.Units() && w.req.Unit == unit })
}

func (m *Mem) deliver(match func(*memWatch) bool) {
	m.mu.Lock()
	woke := false
	for _, w := range m.watches {
		if !match(w) {
			continue
		}
		if m.drop > 0 {
			m.drop--
			m.Dropped++
			continue
		}
		m.Delivered++
		w.sig.notify()
		woke = true
	}
	m.mu.Unlock()
	if woke && m.waker != nil {
		m.waker.Wake()
	}
}

type memWatch struct {
	m     *Mem
	req   Request
	paths []string
	sig   signal
	// unitErr is the injected failure of the unit's subscription.
	unitErr error
}

func (w *memWatch) C() <-chan struct{} { return w.sig }

// Units is true when the watch follows a unit whose subscription did not
// fail (FailUnitWatches).
func (w *memWatch) Units() bool { return w.req.Unit != "" && w.unitErr == nil }

// UnitWatchErr is the injected failure (see UnitErr).
func (w *memWatch) UnitWatchErr() error { return w.unitErr }

func (w *memWatch) Close() error {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	w.m.watches = slices.DeleteFunc(w.m.watches, func(x *memWatch) bool { return x == w })
	return nil
}
