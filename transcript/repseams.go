package transcript

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/clock"
	"github.com/nixfleet/nixfleet-activate/events"
	"github.com/nixfleet/nixfleet-activate/fsview"
	"github.com/nixfleet/nixfleet-activate/lockdiag"
	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// stepErr rebuilds a recorded error: an errno (wrapped in *fs.PathError
// naming name, as fsview's layers do) or a plain error with the text.
func stepErr(op Kind, name, text string) error {
	if text == "" {
		return nil
	}
	if n, ok := strings.CutPrefix(text, "errno="); ok {
		if errno := errnoValue(n); errno != 0 {
			return &fs.PathError{Op: string(op), Path: name, Err: errno}
		}
	}
	// A checked read's refusals keep their sentinel: the journal tells a
	// record kept aside from an unreadable one by them.
	for _, sentinel := range []error{fsview.ErrNotRegular, fsview.ErrTooLarge} {
		if rest, ok := strings.CutPrefix(text, sentinel.Error()); ok {
			return fmt.Errorf("%w%s", sentinel, rest)
		}
	}
	return errors.New(text)
}

// Runner answers each command from the next run step: its exit status
// and output, after checking the command line.
func (p *Replayer) Runner() proc.Runner {
	return proc.RunnerFunc(func(ctx context.Context, cmd proc.Cmd) (proc.Result, error) {
		s, _, ok := p.take(call{kind: KindRun, argv: cmd.Argv})
		if !ok {
			return proc.Result{}, ErrDiverged
		}
		c := s.Cmd
		res := proc.Result{ExitCode: c.Exit, Stdout: c.Stdout, Stderr: c.Stderr, Truncated: c.Truncated}
		if c.Timeout {
			return res, waitTimeout(ctx)
		}
		if c.Err != "" {
			return res, errors.New(c.Err)
		}
		return res, nil
	})
}

// Locker answers each switch lock probe from the next lock step.
func (p *Replayer) Locker() real.Locker { return repLocker{p} }

type repLocker struct{ p *Replayer }

func (l repLocker) Probe(path string) (pipeline.LockState, error) {
	s, _, ok := l.p.take(call{kind: KindLock, path: path})
	if !ok {
		return pipeline.LockFree, ErrDiverged
	}
	st := pipeline.LockFree
	if s.Result == "held" {
		st = pipeline.LockHeld
	}
	return st, stepErr(KindLock, path, s.Err)
}

// Clock answers Now with the recorded readings and After with a channel
// that fires at once, or never when the recording woke on an event
// instead (the wake is then on the watch's channel) or the run was
// interrupted (its context is then done).
func (p *Replayer) Clock() clock.Clock { return repClock{p} }

type repClock struct{ p *Replayer }

func (c repClock) Now() time.Time {
	s, _, ok := c.p.take(call{kind: KindNow})
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if !ok {
		// Past a divergence time runs on, so no deadline waits for ever.
		c.p.lastNow = c.p.lastNow.Add(time.Hour)
	} else if d, err := time.ParseDuration(s.Result); err == nil {
		c.p.lastNow = c.p.t.Header.Start.Add(d)
	}
	return c.p.lastNow
}

func (c repClock) After(d time.Duration) <-chan time.Time {
	_, woke, ok := c.p.take(call{kind: KindSleep, arg: d.String()})
	if ok && (woke || c.p.isInterrupted()) {
		return nil
	}
	ch := make(chan time.Time, 1)
	ch <- c.p.lastNow.Add(d)
	return ch
}

// Events starts replayed watches: the watch step's answer, then each wake
// step posted on its channel at its place in the order.
func (p *Replayer) Events() events.Source { return repSource{p} }

type repSource struct{ p *Replayer }

func (s repSource) Watch(ctx context.Context, req events.Request) (events.Watch, error) {
	w := &replayWatch{c: make(chan struct{}, 1)}
	s.p.mu.Lock()
	s.p.watch = w
	s.p.mu.Unlock()
	st, _, ok := s.p.take(call{kind: KindWatch, path: strings.Join(req.Paths, " "), arg: req.Unit})
	if !ok {
		return nil, ErrDiverged
	}
	if err := stepErr(KindWatch, "", st.Err); err != nil {
		return nil, err
	}
	w.units = st.Result == "units"
	return w, nil
}

// replayWatch is a watch whose notifications the Replayer posts.
type replayWatch struct {
	c     chan struct{}
	units bool
}

func (w *replayWatch) post() {
	select {
	case w.c <- struct{}{}:
	default:
	}
}

func (w *replayWatch) C() <-chan struct{} { return w.c }
func (w *replayWatch) Units() bool        { return w.units }
func (w *replayWatch) Close() error       { return nil }

// LockDiag answers the lock diagnosis from its steps.
func (p *Replayer) LockDiag() lockdiag.Host { return repDiag{p} }

type repDiag struct{ p *Replayer }

func (d repDiag) Proc() *fsview.View { return fsview.New(d.p.Raw(procPrefix)) }

func (d repDiag) LockFile(path string) (lockdiag.FileID, time.Time, error) {
	s, _, ok := d.p.take(call{kind: KindLockFile, path: path})
	if !ok {
		return lockdiag.FileID{}, time.Time{}, ErrDiverged
	}
	var id lockdiag.FileID
	var ctime string
	if _, err := fmt.Sscanf(s.Result, "major=%d minor=%d inode=%d ctime=%s", &id.Major, &id.Minor, &id.Inode, &ctime); err != nil && s.Err == "" {
		return id, time.Time{}, fmt.Errorf("transcript lockfile step %q: %w", s.Result, err)
	}
	t, _ := time.Parse(time.RFC3339Nano, ctime)
	return id, t, stepErr(KindLockFile, path, s.Err)
}

func (d repDiag) Now() time.Time {
	s, _, ok := d.p.take(call{kind: KindDiagNow})
	if !ok {
		return d.p.t.Header.Start
	}
	off, _ := time.ParseDuration(s.Result)
	return d.p.t.Header.Start.Add(off)
}

// errnoValue is unix.ErrnoName's inverse; 0 for an unknown name.
func errnoValue(name string) unix.Errno {
	for e := unix.Errno(1); e < 4096; e++ {
		if unix.ErrnoName(e) == name {
			return e
		}
	}
	return 0
}
