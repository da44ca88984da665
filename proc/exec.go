package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Exec runs commands with os/exec. The zero value is ready to use.
type Exec struct {
	// WaitDelay bounds how long Run waits for the output pipes after ctx
	// ends and the process is killed (default 2 s).
	WaitDelay time.Duration
}

// Run starts cmd and waits for it. When ctx ends first the whole process
// group is killed with SIGKILL and Run returns ctx's error wrapped.
func (e Exec) Run(ctx context.Context, cmd Cmd) (Result, error) {
	if len(cmd.Argv) == 0 {
		return Result{}, errors.New("proc: empty argv")
	}
	c := exec.CommandContext(ctx, cmd.Argv[0], cmd.Argv[1:]...)
	c.Env = append(os.Environ(), cmd.Env...)
	stdout := &headBuffer{max: MaxStdout}
	stderr := &tailBuffer{max: MaxStderr}
	var lines io.Closer
	c.Stdout, lines = stdout, nil
	c.Stderr, lines = teeStderr(ctx, stderr)
	// GOTCHA: children such as nix-store spawn helpers; kill the group, not
	// just the leader, or a hung substituter keeps the pipes open.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = e.WaitDelay
	if c.WaitDelay == 0 {
		c.WaitDelay = 2 * time.Second
	}
	err := c.Run()
	if lines != nil {
		_ = lines.Close()
	}
	res := Result{Stdout: stdout.buf, Stderr: stderr.bytes(), Truncated: stdout.lost || stderr.lost}
	if ctx.Err() != nil {
		return res, fmt.Errorf("proc: %s: %w", cmd.Argv[0], ctx.Err())
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &exitErr):
		res.ExitCode = exitCode(exitErr)
		return res, nil
	default:
		return res, fmt.Errorf("proc: %s: %w", cmd.Argv[0], err)
	}
}

func exitCode(e *exec.ExitError) int {
	if ws, ok := e.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return e.ExitCode()
}

// headBuffer keeps the first max bytes written.
type headBuffer struct {
	buf  []byte
	max  int
	lost bool
}

func (b *headBuffer) Write(p []byte) (int, error) {
	room := b.max - len(b.buf)
	if room < len(p) {
		b.lost = true
		if room > 0 {
			b.buf = append(b.buf, p[:room]...)
		}
		return len(p), nil
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	buf  []byte
	max  int
	lost bool
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.lost = true
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) bytes() []byte { return b.buf }
