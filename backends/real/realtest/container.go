package realtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nixfleet/nixfleet-activate/proc"
)

// ContainerOpts configures StartContainer. The zero value boots RootFS().
type ContainerOpts struct {
	// RootFS is the root filesystem to boot (default RootFS()); it is never
	// modified: the container writes to a tmpfs overlay (nspawn
	// --volatile=overlay) that vanishes with it.
	RootFS string
	// Binds are host directories bound read-write at the same path inside the
	// container, e.g. ClosureOpts.TestRoot so the switch script's link flip
	// is visible on both sides. The host's /nix is always bound.
	Binds []string
	// Caches are binary caches the container's Nix reads: each one's Dir is
	// bound at the same path, like Binds.
	// GOTCHA: Nix 2.8 (Debian nix-bin) skips a file:// substituter whose
	// directory does not exist without a word, so an unbound cache turns
	// every realise inside the container into "don't know how to build
	// these paths", whatever the keys. StartContainer checks after the boot
	// that every bound directory is visible inside.
	Caches []*Cache
	// BootTimeout bounds the boot up to `systemctl is-system-running --wait`
	// (default 60 s; a boot takes about 1.5-2 s).
	BootTimeout time.Duration
	// StopTimeout bounds the clean halt after SIGTERM before the container is
	// killed (default 20 s; a halt takes about 1.5 s).
	StopTimeout time.Duration
}

// Container is a booted systemd-nspawn container with systemd 252 as its
// PID 1, the host's /nix bound inside and a private network (loopback only).
type Container struct {
	// Name is the machine name (also the container's hostname).
	Name string
	// PID1 is the host PID of the container's systemd.
	PID1 int

	nspawn      *exec.Cmd
	done        chan struct{} // closed when nspawn has exited
	waitErr     error         // nspawn's exit, valid after done
	consoleFile string
	cgroups     []string
	stopTimeout time.Duration
	stopOnce    sync.Once
	stopErr     error
}

// containerPath is PATH inside the container; the host's PATH would leak
// directories that do not exist there.
const containerPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

var containerSeq atomic.Int64

// StartContainer boots a container from the cached root filesystem and
// returns once its systemd reports the system running:
//
//	systemd-nspawn -D ROOT --volatile=overlay --register=no --keep-unit -b
//	  --console=read-only --private-network -M NAME --bind=/nix --bind=DIR...
//
// DIR are opts.Binds and the directories of opts.Caches; each must be
// visible inside once booted, or t fails.
//
// nspawn runs in a cgroup of its own (see containerCgroups), so containers
// can run in parallel. Readiness: PID 1 is nspawn's child named "systemd";
// /run/systemd/private exists; `systemctl is-system-running --wait` prints
// "running" (or "degraded", logged). The container is halted on t.Cleanup
// (SIGTERM, then SIGKILL after StopTimeout) and its cgroups are removed.
// Calls RequireContainer first; any failure to boot fails t with the console.
func StartContainer(t testing.TB, opts ContainerOpts) *Container {
	t.Helper()
	defaultRootFS := RequireContainer(t)
	opts = opts.withDefaults(defaultRootFS)
	c := &Container{
		Name:        fmt.Sprintf("%s%d-%d", cgroupPrefix, os.Getpid(), containerSeq.Add(1)),
		done:        make(chan struct{}),
		consoleFile: filepath.Join(t.TempDir(), "console.log"),
		stopTimeout: opts.StopTimeout,
	}
	if err := c.start(opts); err != nil {
		t.Fatalf("container %s: %v", c.Name, err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("container %s: %v", c.Name, err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), opts.BootTimeout)
	defer cancel()
	if err := c.waitBooted(ctx, t); err != nil {
		t.Fatalf("container %s: %v\nconsole:\n%s", c.Name, err, c.Console())
	}
	if err := c.checkBinds(opts.binds()); err != nil {
		t.Fatalf("container %s: %v", c.Name, err)
	}
	return c
}

func (o ContainerOpts) withDefaults(rootfs string) ContainerOpts {
	if o.RootFS == "" {
		o.RootFS = rootfs
	}
	if o.BootTimeout == 0 {
		o.BootTimeout = 60 * time.Second
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = 20 * time.Second
	}
	return o
}

// binds lists every directory bound at its own path: Binds, then the
// caches' directories.
func (o ContainerOpts) binds() []string {
	dirs := append([]string(nil), o.Binds...)
	for _, cache := range o.Caches {
		dirs = append(dirs, cache.Dir())
	}
	return dirs
}

// checkBinds reports the first bound directory that the container does not
// see at its own path (through /proc/PID1/root).
func (c *Container) checkBinds(dirs []string) error {
	for _, dir := range dirs {
		inside := fmt.Sprintf("/proc/%d/root%s", c.PID1, filepath.Clean(dir))
		if fi, err := os.Stat(inside); err != nil || !fi.IsDir() {
			return fmt.Errorf("bound directory %s is not visible inside: %v", dir, err)
		}
	}
	return nil
}

func (c *Container) start(opts ContainerOpts) error {
	cgroups, err := containerCgroups(c.Name)
	if err != nil {
		return err
	}
	c.cgroups = cgroups
	console, err := os.Create(c.consoleFile)
	if err != nil {
		return errors.Join(err, removeCgroups(cgroups))
	}
	defer console.Close()
	args := []string{"/bin/sh", "-c", cgroupJoinScript, "sh",
		// GOTCHA: not -x: on a non-btrfs host -x copies the whole tree
		// (~5 s a boot); the overlay is as ephemeral and boots in < 1 s.
		"systemd-nspawn", "-D", opts.RootFS, "--volatile=overlay",
		// GOTCHA: --keep-unit --register=no: this machine's PID 1 is not
		// systemd, so there is no machined to register with and no unit to
		// create; nspawn stays in the cgroups made above.
		"--register=no", "--keep-unit", "-b", "--console=read-only",
		"--private-network", "-M", c.Name}
	if exists("/nix") {
		args = append(args, "--bind=/nix")
	}
	for _, b := range opts.binds() {
		args = append(args, "--bind="+b)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "NIXFLEET_CGROUP_PROCS="+cgroupProcsList(cgroups))
	cmd.Stdout, cmd.Stderr = console, console
	// GOTCHA: a test binary killed by its -timeout runs no t.Cleanup; the
	// parent-death signal still halts the container. It fires when the OS
	// thread that started nspawn exits, which the Go runtime does only for
	// threads left locked by an exiting goroutine: none here.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return errors.Join(err, removeCgroups(cgroups))
	}
	c.nspawn = cmd
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	return nil
}

// waitBooted waits for PID 1, its private bus socket and the end of the boot.
func (c *Container) waitBooted(ctx context.Context, t testing.TB) error {
	pid, err := c.waitPID1(ctx)
	if err != nil {
		return err
	}
	c.PID1 = pid
	socket := fmt.Sprintf("/proc/%d/root/run/systemd/private", pid)
	if err := c.poll(ctx, func() bool {
		fi, err := os.Stat(socket)
		return err == nil && fi.Mode().Type() == os.ModeSocket
	}); err != nil {
		return fmt.Errorf("waiting for /run/systemd/private: %w", err)
	}
	stdout, stderr, exit, err := c.Exec(ctx, "systemctl", "is-system-running", "--wait")
	state := strings.TrimSpace(stdout)
	switch {
	case err != nil:
		return fmt.Errorf("systemctl is-system-running --wait: %w", err)
	case state == "running":
		return nil
	case state == "degraded":
		failed, _, _, _ := c.Exec(ctx, "systemctl", "--failed", "--no-legend")
		t.Logf("container %s booted degraded; failed units:\n%s", c.Name, failed)
		return nil
	default:
		return fmt.Errorf("systemctl is-system-running --wait: %q, exit %d, %s", state, exit, stderr)
	}
}

// waitPID1 finds the child of nspawn whose command name is "systemd".
func (c *Container) waitPID1(ctx context.Context) (int, error) {
	var pid1 int
	err := c.poll(ctx, func() bool {
		pid1 = systemdChild(c.nspawn.Process.Pid)
		return pid1 != 0
	})
	if err != nil {
		return 0, fmt.Errorf("waiting for the container's systemd: %w", err)
	}
	return pid1, nil
}

func systemdChild(parent int) int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", parent))
	for _, f := range tasks {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, field := range strings.Fields(string(data)) {
			comm, err := os.ReadFile("/proc/" + field + "/comm")
			if err == nil && strings.TrimSpace(string(comm)) == "systemd" {
				pid, _ := strconv.Atoi(field)
				return pid
			}
		}
	}
	return 0
}

// poll calls ready every 20 ms until it returns true, nspawn exits or ctx
// ends.
func (c *Container) poll(ctx context.Context, ready func() bool) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !ready() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			return fmt.Errorf("systemd-nspawn exited: %v", c.waitErr)
		case <-tick.C:
		}
	}
	return nil
}

// Runner returns a proc.Runner that runs each command inside the container
// with `nsenter -t PID1 -a -- ARGV...` (all of PID 1's namespaces: mount,
// PID, network, IPC, UTS, cgroup), so systemctl and systemd-run talk to the
// container's systemd. The command gets the inherited environment plus a
// container PATH and its own Env. Exit codes are those of the command
// (nsenter execs it); see proc.Exec for signals and ctx.
func (c *Container) Runner() proc.Runner {
	return proc.RunnerFunc(func(ctx context.Context, cmd proc.Cmd) (proc.Result, error) {
		if len(cmd.Argv) == 0 {
			return proc.Result{}, errors.New("realtest: empty argv")
		}
		return proc.Exec{}.Run(ctx, c.inside(cmd))
	})
}

// inside wraps cmd so that it runs in the container: `nsenter -t PID1 -a --
// ARGV...`, with the container's PATH ahead of cmd's own Env.
func (c *Container) inside(cmd proc.Cmd) proc.Cmd {
	return proc.Cmd{
		Argv: append([]string{"nsenter", "-t", strconv.Itoa(c.PID1), "-a", "--"}, cmd.Argv...),
		Env:  append([]string{containerPath}, cmd.Env...),
	}
}

// Exec runs argv inside the container (see Runner) and returns its standard
// output, standard error and exit code. err is non-nil only when the command
// could not be run to completion; exit is then -1 and means nothing.
func (c *Container) Exec(ctx context.Context, argv ...string) (stdout, stderr string, exit int, err error) {
	res, err := c.Runner().Run(ctx, proc.Cmd{Argv: argv})
	if err != nil {
		return string(res.Stdout), string(res.Stderr), -1, err
	}
	return string(res.Stdout), string(res.Stderr), res.ExitCode, nil
}

// Console returns what the container printed on its console so far.
func (c *Container) Console() string {
	data, err := os.ReadFile(c.consoleFile)
	if err != nil {
		return "(console unreadable: " + err.Error() + ")"
	}
	return string(data)
}

// Stop halts the container: SIGTERM to nspawn (which asks systemd for a clean
// halt, about 1.5 s), then after StopTimeout SIGKILL to PID 1 (ending the
// whole PID namespace) and to nspawn; finally it removes the cgroups.
// Idempotent; t.Cleanup calls it.
func (c *Container) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Container) stop() error {
	var errs []error
	if c.nspawn != nil && c.nspawn.Process != nil {
		_ = c.nspawn.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(c.stopTimeout):
			errs = append(errs, fmt.Errorf("no clean halt within %v; killed", c.stopTimeout))
			if c.PID1 != 0 {
				_ = syscall.Kill(c.PID1, syscall.SIGKILL)
			}
			_ = c.nspawn.Process.Kill()
			<-c.done
		}
	}
	if err := removeCgroups(c.cgroups); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
