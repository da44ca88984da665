package main

// Issue 19 in a systemd-nspawn container (systemd 252 as PID 1, its own
// /proc and PID namespace): the binary diagnoses real flock(2) holders and
// unblock stops only this agent's own unit.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/backends/real/realtest"
	"github.com/nixfleet/nixfleet-activate/lockdiag"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// diagBox is a booted container with the binary and a test root bound in.
type diagBox struct {
	box       *realtest.Container
	bin, root string
	recordings
}

func (b *diagBox) lock() string {
	return filepath.Join(b.root, "run/nixos/switch-to-configuration.lock")
}

// run runs the binary inside the container with the test root's paths.
func (b *diagBox) run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	argv := []string{b.bin, "--root", "/", "--lock", b.lock(),
		"--state-dir", filepath.Join(b.root, "state"), "--current-system", filepath.Join(b.root, "run/current-system"),
		"--profile", filepath.Join(b.root, "profiles/system"),
		"--switch-unit", e2eSwitchUnit, "--rollback-unit", e2eRollbackUnit, "--log-format", "json"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	argv = append(argv, b.recordArgs(args)...)
	stdout, stderr, exit, err := b.box.Exec(ctx, append(argv, args...)...)
	require.NoError(t, err, "running the binary: %s", stderr)
	t.Logf("%s -> exit %d\n%s", strings.Join(args, " "), exit, strings.TrimSpace(stdout))
	return stdout, exit
}

// sh runs a shell command line inside the container and requires exit 0.
func (b *diagBox) sh(t *testing.T, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stdout, stderr, exit, err := b.box.Exec(ctx, "sh", "-c", script)
	require.NoError(t, err)
	require.Equal(t, 0, exit, "%s: %s", script, stderr)
	return strings.TrimSpace(stdout)
}

func (b *diagBox) waitLock(t *testing.T, want pipeline.LockState) {
	t.Helper()
	waitFor(t, nil, "the switch lock in state "+strconv.Itoa(int(want)), func() bool {
		st, err := real.Flock{}.Probe(b.lock())
		return err == nil && st == want
	})
}

// diagnose runs unblock (diagnosis only) and returns the diagnosis.
func (b *diagBox) diagnose(t *testing.T) *lockdiag.Diagnosis {
	t.Helper()
	stdout, _ := b.run(t, "unblock")
	var rep real.UnblockReport
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
	require.NotNil(t, rep.Lock)
	return rep.Lock
}

// stop is the test's own clean-up of a unit it started.
func (b *diagBox) stop(t *testing.T, unit string) {
	b.sh(t, "systemctl stop "+unit)
	b.waitLock(t, pipeline.LockFree)
}

func (b *diagBox) active(t *testing.T, unit string) string {
	return b.sh(t, "systemctl show -P ActiveState "+unit)
}

func TestBinaryRealLockDiagnosis(t *testing.T) {
	realtest.RequireContainer(t)
	dir := t.TempDir()
	b := &diagBox{bin: buildBinary(t, dir), root: filepath.Join(dir, "root")}
	b.startRecording(t, dir)
	require.NoError(t, os.MkdirAll(filepath.Join(b.root, "run/nixos"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(b.root, "state"), 0o755))
	b.box = realtest.StartContainer(t, realtest.ContainerOpts{Binds: []string{dir}})
	pidFile := filepath.Join(dir, "sleeper.pid")

	t.Run("inherited descriptor", func(t *testing.T) {
		// flock(1) takes the lock and runs sh, which leaves a sleeping
		// child with the descriptor and exits; flock exits after it. With
		// --remain-after-exit the unit stays active and its leftover child
		// keeps running, as a daemon a switch started does.
		b.sh(t, "systemd-run --quiet --unit=lockdiag-daemon --remain-after-exit -- flock --exclusive "+b.lock()+
			" sh -c 'sleep 1000 >/dev/null 2>&1 & echo $! >"+pidFile+"; exit 0'")
		defer b.stop(t, "lockdiag-daemon")
		b.waitLock(t, pipeline.LockHeld)
		waitFor(t, nil, "the daemon's main process to exit", func() bool {
			return b.sh(t, "systemctl show -P SubState lockdiag-daemon") == "exited"
		})
		data, err := os.ReadFile(pidFile)
		require.NoError(t, err)
		sleeper, err := strconv.Atoi(strings.TrimSpace(string(data)))
		require.NoError(t, err)

		stdout, exit := b.run(t, "activate", "0a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-nixos-system-web1-24.11")
		assert.Equal(t, ExitSkipped, exit)
		var out pipeline.Outcome
		require.NoError(t, json.Unmarshal([]byte(stdout), &out))
		require.Equal(t, pipeline.Skipped, out.Kind)
		assert.Equal(t, pipeline.PhaseLockProbe, out.Phase)
		require.Len(t, out.LockHolders, 1, "the dead flock(1) is not listed, its sleeping child is")
		h := out.LockHolders[0]
		assert.Equal(t, sleeper, h.PID)
		assert.Equal(t, lockdiag.KindInherited, h.Kind)
		assert.Equal(t, "sleep", h.Comm)
		assert.Equal(t, "lockdiag-daemon.service", h.Unit)
		assert.Contains(t, h.Hint, "systemctl restart lockdiag-daemon.service")
		require.NotNil(t, h.HeldForS)
		assert.Less(t, *h.HeldForS, int64(120))

		stdout, exit = b.run(t, "status")
		assert.Equal(t, ExitSuccess, exit)
		var st hostStatus
		require.NoError(t, json.Unmarshal([]byte(stdout), &st))
		assert.Equal(t, "held", st.Lock)
		require.NotNil(t, st.LockDiagnosis)
		require.Len(t, st.LockDiagnosis.Holders, 1)
		assert.Equal(t, sleeper, st.LockDiagnosis.Holders[0].PID)

		// unblock stops nothing that is not ours.
		stdout, exit = b.run(t, "unblock", "--stop-own-unit", "--older-than", "1ms")
		assert.Equal(t, ExitSkipped, exit)
		var rep real.UnblockReport
		require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
		assert.Equal(t, "lock-held", rep.Outcome)
		assert.Empty(t, rep.Stopped)
		assert.Equal(t, "active", b.active(t, "lockdiag-daemon"))
		b.sh(t, "kill -0 "+strconv.Itoa(sleeper))
		b.waitLock(t, pipeline.LockHeld)
	})

	t.Run("foreign switch", func(t *testing.T) {
		// A switch-to-configuration script (run by its interpreter, as the
		// Perl one is) holds the lock on its descriptor 9; its sleeping
		// child does not inherit it.
		script := filepath.Join(dir, "foreign/bin/switch-to-configuration")
		require.NoError(t, os.MkdirAll(filepath.Dir(script), 0o755))
		require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\nexec 9>\"$1\"\nflock --exclusive 9\nsleep 1000 9>&-\n"), 0o755))
		b.sh(t, "systemd-run --quiet --unit=lockdiag-foreign -- "+script+" "+b.lock())
		defer b.stop(t, "lockdiag-foreign")
		b.waitLock(t, pipeline.LockHeld)
		d := b.diagnose(t)
		require.Len(t, d.Holders, 1, "%+v", d.Holders)
		h := d.Holders[0]
		assert.Equal(t, lockdiag.KindSwitch, h.Kind)
		assert.Equal(t, "lockdiag-foreign.service", h.Unit)
		assert.Equal(t, []string{"/bin/sh", script, b.lock()}, h.Cmdline)
		assert.Contains(t, h.Hint, "wait for it")
	})

	t.Run("zombie", func(t *testing.T) {
		// flock(1) takes the lock on the shell's descriptor 9 in the
		// background and exits; the shell has become sleep, which never
		// reaps it: a zombie locker, and a parent that keeps the descriptor.
		b.sh(t, "systemd-run --quiet --unit=lockdiag-zombie -- sh -c 'exec 9>"+b.lock()+"; flock --exclusive 9 & exec sleep 1000'")
		defer b.stop(t, "lockdiag-zombie")
		b.waitLock(t, pipeline.LockHeld)
		var d *lockdiag.Diagnosis
		waitFor(t, nil, "the locker to become a zombie", func() bool {
			d = b.diagnose(t)
			return len(d.Holders) > 0 && d.Holders[0].State == "Z"
		})
		require.Len(t, d.Holders, 2, "%+v", d.Holders)
		z, parent := d.Holders[0], d.Holders[1]
		assert.Equal(t, lockdiag.KindZombie, z.Kind)
		assert.True(t, z.Locker)
		assert.Equal(t, "flock", z.Comm)
		require.NotNil(t, z.PPID)
		assert.Equal(t, parent.PID, *z.PPID)
		assert.Equal(t, "sleep", z.ParentComm)
		assert.Equal(t, "lockdiag-zombie.service", z.ParentUnit)
		assert.Contains(t, z.Hint, "systemctl restart lockdiag-zombie.service")
		assert.Equal(t, lockdiag.KindInherited, parent.Kind)
	})

	t.Run("own hung unit", func(t *testing.T) {
		b.sh(t, "systemd-run --quiet --unit=lockdiag-bystander -- sleep 1000")
		started := time.Now()
		b.sh(t, "systemd-run --quiet --unit="+e2eSwitchUnit+" --service-type=exec -- flock --exclusive "+b.lock()+" sleep 1000")
		b.waitLock(t, pipeline.LockHeld)

		stdout, exit := b.run(t, "unblock", "--stop-own-unit", "--older-than", "1h")
		assert.Equal(t, ExitSkipped, exit, "younger than the bound: kept")
		var rep real.UnblockReport
		require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
		assert.Equal(t, "lock-held", rep.Outcome)
		assert.Empty(t, rep.Stopped)
		require.NotEmpty(t, rep.Lock.Holders)
		for _, h := range rep.Lock.Holders {
			assert.Equal(t, lockdiag.KindOwnUnit, h.Kind, "%+v", h)
			assert.Equal(t, e2eSwitchUnit+".service", h.Unit)
		}
		assert.Equal(t, "active", b.active(t, e2eSwitchUnit))

		waitFor(t, nil, "the hung unit to be 2 s old", func() bool { return time.Since(started) > 2*time.Second })
		stdout, exit = b.run(t, "unblock", "--stop-own-unit", "--older-than", "1s")
		assert.Equal(t, ExitSuccess, exit)
		rep = real.UnblockReport{}
		require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
		assert.Equal(t, "own-unit-stopped", rep.Outcome)
		assert.Equal(t, []string{e2eSwitchUnit + ".service"}, rep.Stopped)
		require.NotNil(t, rep.After)
		assert.False(t, rep.After.Held)
		b.waitLock(t, pipeline.LockFree)
		assert.NotEqual(t, "active", b.active(t, e2eSwitchUnit))
		assert.Equal(t, "active", b.active(t, "lockdiag-bystander"), "nothing else is touched")
	})
}
