package transcript

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/clock"
	"github.com/nixfleet/nixfleet-activate/fsview"
	"github.com/nixfleet/nixfleet-activate/lockdiag"
	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// Runner wraps inner so that each command it runs is a run step: argv,
// exit status, output, start offset and duration (texts redacted).
func (r *Recorder) Runner(inner proc.Runner) proc.Runner {
	return proc.RunnerFunc(func(ctx context.Context, cmd proc.Cmd) (proc.Result, error) {
		at := time.Since(r.start)
		began := time.Now()
		res, err := inner.Run(ctx, cmd)
		c := &Command{Argv: r.red.Strings(cmd.Argv), Exit: res.ExitCode, Stdout: r.red.Bytes(res.Stdout),
			Stderr: r.red.Bytes(res.Stderr), Truncated: res.Truncated, Took: time.Since(began)}
		if err != nil {
			c.Err = r.red.Text(err.Error())
		}
		c.Timeout = errors.Is(ctx.Err(), context.DeadlineExceeded)
		r.add(Step{Kind: KindRun, At: nonZero(at), Cmd: c})
		return res, err
	})
}

// nonZero keeps a step taken at the very start from being restamped.
func nonZero(d time.Duration) time.Duration { return max(d, time.Nanosecond) }

// Locker wraps inner so that each switch lock probe is a lock step.
func (r *Recorder) Locker(inner real.Locker) real.Locker { return recLocker{r, inner} }

type recLocker struct {
	r     *Recorder
	inner real.Locker
}

func (l recLocker) Probe(path string) (pipeline.LockState, error) {
	st, err := l.inner.Probe(path)
	l.r.add(Step{Kind: KindLock, Path: path, Result: lockText(st), Err: l.r.errText(err)})
	return st, err
}

func lockText(st pipeline.LockState) string {
	if st == pipeline.LockHeld {
		return "held"
	}
	return "free"
}

// Clock wraps inner so that each Now reading is a now step (its offset
// from the recording's start) and each After a sleep step.
func (r *Recorder) Clock(inner clock.Clock) clock.Clock { return recClock{r, inner} }

type recClock struct {
	r     *Recorder
	inner clock.Clock
}

func (c recClock) Now() time.Time {
	now := c.inner.Now()
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	if c.r.armed {
		c.r.addLocked(Step{Kind: KindNow, Result: c.r.offset(now)})
	}
	return now
}

func (c recClock) After(d time.Duration) <-chan time.Time {
	c.r.add(Step{Kind: KindSleep, Arg: d.String()})
	return c.inner.After(d)
}

// LockDiag wraps inner so that the lock diagnosis's reads are steps: its
// /proc view (the host's root, as lockdiag.OSHost's, read through Raw with
// paths prefixed "proc:"), the lock file's stat and its clock.
func (r *Recorder) LockDiag(inner lockdiag.Host) lockdiag.Host { return recDiag{r: r, inner: inner} }

type recDiag struct {
	r     *Recorder
	inner lockdiag.Host
}

func (d recDiag) Proc() *fsview.View { return fsview.New(d.r.Raw(fsview.NewOSRaw("/"), procPrefix)) }

func (d recDiag) LockFile(path string) (lockdiag.FileID, time.Time, error) {
	id, ctime, err := d.inner.LockFile(path)
	d.r.add(Step{Kind: KindLockFile, Path: path, Result: fmt.Sprintf("major=%d minor=%d inode=%d ctime=%s",
		id.Major, id.Minor, id.Inode, ctime.UTC().Format(time.RFC3339Nano)), Err: d.r.errText(err)})
	return id, ctime, err
}

func (d recDiag) Now() time.Time {
	now := d.inner.Now()
	d.r.add(Step{Kind: KindDiagNow, Result: d.r.offset(now)})
	return now
}

// Interruptible returns a context for the recorded pipeline call that ends
// when parent does, after an interrupt step is recorded, so every step
// that saw the end comes after it in the transcript; stop releases it.
// The returned context keeps parent's values, not its deadline (the
// binary's context has none: it ends on SIGINT or SIGTERM only).
//
// LOADBEARING: the step is added before cancel: a replay ends its context
// at the same place in the order.
func (r *Recorder) Interruptible(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	release := context.AfterFunc(parent, func() {
		r.add(Step{Kind: KindInterrupt})
		cancel()
	})
	return ctx, func() {
		release()
		cancel()
	}
}
