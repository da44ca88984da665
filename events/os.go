package events

import (
	"context"
	"errors"
	"path"
	"path/filepath"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// OS watches the host's filesystem with inotify (fsnotify v1.9) and, with
// SystemdBus, the end of the request's unit through systemd's D-Bus
// (unitBus).
type OS struct {
	// Root is the host directory the view's names are under ("/" or ""
	// for the real root).
	Root string
	// SystemdBus is the path of systemd's private socket
	// (SystemdPrivateSocket) whose signals report the end of
	// Request.Unit; "": units are not followed (Units is false, the
	// caller reads their status).
	SystemdBus string
}

// Watch implements Source: one inotify watch per parent directory of
// req.Paths.
//
// GOTCHA: the link is replaced by rename(2) of a temporary link over it, so its own inode (and a watch on it) goes away; the directory's IN_MOVED_TO/IN_CREATE carry the name.
func (o OS) Watch(ctx context.Context, req Request) (Watch, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, p := range req.Paths {
		host := filepath.Join(o.root(), filepath.FromSlash(path.Clean(p)))
		names[host] = true
		if err := fw.Add(filepath.Dir(host)); err != nil {
			return nil, errors.Join(err, fw.Close())
		}
	}
	w := &osWatch{fw: fw, names: names, sig: newSignal(), done: make(chan struct{})}
	w.followUnit(ctx, o.SystemdBus, req.Unit)
	w.wg.Add(1)
	go w.loop(ctx)
	return w, nil
}

func (o OS) root() string {
	if o.Root == "" {
		return "/"
	}
	return o.Root
}

type osWatch struct {
	fw    *fsnotify.Watcher
	names map[string]bool
	sig   signal
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
	// bus follows the unit's end (nil: not followed); busErr says why
	// not, when the subscription failed.
	bus    *unitBus
	busErr error
}

// followUnit subscribes to unit's end on socket, when both are given. A
// failed subscription leaves the watch on the paths alone (Units false,
// UnitWatchErr says why): the caller reads the unit's status instead.
func (w *osWatch) followUnit(ctx context.Context, socket, unit string) {
	if socket == "" || unit == "" {
		return
	}
	w.bus, w.busErr = watchUnitEnd(ctx, socket, unit, w.sig)
}

func (w *osWatch) C() <-chan struct{} { return w.sig }

// Units is true while the D-Bus subscription to the unit delivers its end
// (false once its connection is lost).
func (w *osWatch) Units() bool { return w.bus != nil && w.bus.live() }

// UnitWatchErr is why the unit's end is not followed (nil: it is, or no
// unit or socket was asked for).
func (w *osWatch) UnitWatchErr() error { return w.busErr }

// loop posts a notification for every event on a watched name, and for
// every watch error (an overflow may have lost one: read again).
func (w *osWatch) loop(ctx context.Context) {
	defer w.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.done:
			return
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			if w.names[filepath.Clean(ev.Name)] {
				w.sig.notify()
			}
		case _, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			w.sig.notify()
		}
	}
}

func (w *osWatch) Close() error {
	var err error
	w.once.Do(func() {
		close(w.done)
		err = w.fw.Close()
		w.wg.Wait()
		if w.bus != nil {
			err = errors.Join(err, w.bus.close())
		}
	})
	return err
}
