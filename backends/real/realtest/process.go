package realtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nixfleet/nixfleet-activate/proc"
)

// Process is a command running in the background inside a Container (see
// Container.Start), so a test can signal it mid-run as systemd or an
// operator would.
type Process struct {
	// PID is the command's process ID on this machine, outside the
	// container's PID namespace; Signal sends to it.
	PID int

	nsenter        *exec.Cmd
	stdout, stderr syncBuffer
	done           chan struct{} // closed when nsenter has exited
	waitErr        error         // nsenter's Wait, valid after done
}

// syncBuffer is a bytes.Buffer that may be read while the command writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ProcessExit is how a Process ended.
type ProcessExit struct {
	Stdout, Stderr string
	// Code is the command's exit status; -1 when a signal ended it.
	Code int
	// Signal is the signal that ended the command; 0 when it exited.
	Signal syscall.Signal
	// State is nsenter's: its rusage covers nsenter and the command.
	State *os.ProcessState
}

// startLookup bounds the wait for the command's exec after nsenter started.
const startLookup = 30 * time.Second

// Start runs argv inside the container in the background, as Exec does
// (`nsenter -t PID1 -a -- ARGV...`, container PATH), and returns once the
// command has replaced nsenter's forked child: util-linux nsenter forks
// when it enters a PID namespace and waits for that child, then exits with
// the child's status or kills itself with the child's signal. PID is
// therefore the command's own, and a signal sent to it reaches the command,
// not nsenter. The command's standard output and error are kept for Wait
// and can be read while it runs (Output). A
// command still running at the end of the test is killed (SIGKILL) on
// t.Cleanup. Fails t when nsenter cannot start or the command does not show
// up within 30 s (it must run long enough to be seen: tens of
// milliseconds).
func (c *Container) Start(t testing.TB, argv ...string) *Process {
	t.Helper()
	if len(argv) == 0 {
		t.Fatal("realtest: Start with an empty argv")
	}
	in := c.inside(proc.Cmd{Argv: argv})
	p := &Process{nsenter: exec.Command(in.Argv[0], in.Argv[1:]...), done: make(chan struct{})}
	p.nsenter.Env = append(os.Environ(), in.Env...)
	p.nsenter.Stdout, p.nsenter.Stderr = &p.stdout, &p.stderr
	if err := p.nsenter.Start(); err != nil {
		t.Fatalf("starting %v in container %s: %v", argv, c.Name, err)
	}
	go func() {
		p.waitErr = p.nsenter.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	pid, err := p.findCommand(filepath.Base(argv[0]))
	if err != nil {
		_, stderr := p.Output()
		t.Fatalf("%v in container %s: %v\nstderr:\n%s", argv, c.Name, err, stderr)
	}
	p.PID = pid
	return p
}

// findCommand waits until nsenter's child runs program: its comm (the
// first 15 bytes of the program's file name, Linux) shows the exec is done.
func (p *Process) findCommand(program string) (int, error) {
	comm := program[:min(len(program), 15)]
	children := fmt.Sprintf("/proc/%d/task/%d/children", p.nsenter.Process.Pid, p.nsenter.Process.Pid)
	deadline := time.Now().Add(startLookup)
	for time.Now().Before(deadline) {
		data, _ := os.ReadFile(children)
		for _, child := range strings.Fields(string(data)) {
			if name, err := os.ReadFile("/proc/" + child + "/comm"); err == nil && strings.TrimSpace(string(name)) == comm {
				return strconv.Atoi(child)
			}
		}
		select {
		case <-p.done:
			return 0, fmt.Errorf("ended before it was seen running: %v", p.waitErr)
		case <-time.After(time.Millisecond):
		}
	}
	return 0, fmt.Errorf("not running as %q after %v", comm, startLookup)
}

// Output returns what the command (and nsenter) wrote so far to standard
// output and standard error.
func (p *Process) Output() (stdout, stderr string) {
	return p.stdout.String(), p.stderr.String()
}

// Done is closed once the command (and nsenter) have ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Signal sends sig to the command (not to nsenter).
func (p *Process) Signal(sig syscall.Signal) error {
	return syscall.Kill(p.PID, sig)
}

// Wait waits for the command to end, or for ctx. The error is ctx's, or
// one of nsenter's that is not an exit status.
func (p *Process) Wait(ctx context.Context) (ProcessExit, error) {
	select {
	case <-p.done:
	case <-ctx.Done():
		return ProcessExit{}, ctx.Err()
	}
	var exitErr *exec.ExitError
	if p.waitErr != nil && !errors.As(p.waitErr, &exitErr) {
		return ProcessExit{}, p.waitErr
	}
	state := p.nsenter.ProcessState
	exit := ProcessExit{Stdout: p.stdout.String(), Stderr: p.stderr.String(), Code: state.ExitCode(), State: state}
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		exit.Signal = ws.Signal()
	}
	return exit, nil
}

// kill ends a command still running: SIGKILL to it and to nsenter.
func (p *Process) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	if p.PID != 0 {
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
	}
	_ = p.nsenter.Process.Kill()
	<-p.done
}
