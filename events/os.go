package events

import (
	"context"
	"errors"
	"path"
	"path/filepath"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// OS watches the host's filesystem with inotify (fsnotify v1.9). Root is
// the host directory the view's names are under ("/" or "" for the real
// root). It does not follow units: their end is found by reading their
// status (Units is false; see docs for why not D-Bus).
type OS struct {
	Root string
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
}

func (w *osWatch) C() <-chan struct{} { return w.sig }
func (w *osWatch) Units() bool        { return false }

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
	})
	return err
}
