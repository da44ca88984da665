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
	m.deliver(func(w *memWatch) bool { return w.req.Unit != "" && w.req.Unit == unit })
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
}

func (w *memWatch) C() <-chan struct{} { return w.sig }
func (w *memWatch) Units() bool        { return true }

func (w *memWatch) Close() error {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	w.m.watches = slices.DeleteFunc(w.m.watches, func(x *memWatch) bool { return x == w })
	return nil
}
