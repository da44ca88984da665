package lockdiag

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// TestDiagnoseRealFlock holds a real flock(1) on a temp file from a child
// and diagnoses it through this machine's /proc: the flock process is the
// locker, its child (which inherited the descriptor) a second holder.
func TestDiagnoseRealFlock(t *testing.T) {
	if _, err := os.Stat("/proc/locks"); err != nil {
		t.Skip("no /proc/locks")
	}
	dir := t.TempDir()
	lock := filepath.Join(dir, "switch.lock")
	if err := os.WriteFile(lock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := holdFlock(t, lock)
	d, err := Diagnose(OSHost{Root: dir}, "/switch.lock", []string{"nixfleet-activate-switch"})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Held || len(d.Holders) == 0 {
		t.Fatalf("diagnosis %+v: want held with holders", d)
	}
	first := d.Holders[0]
	if first.PID != cmd.Process.Pid || !first.Locker || first.Comm != "flock" || first.Kind != KindOther {
		t.Errorf("first holder %+v: want the flock process %d, locker, kind other", first, cmd.Process.Pid)
	}
	if first.Since == nil || first.SinceSource != SinceProcessStart || *first.HeldForS < 0 || *first.HeldForS > 60 {
		t.Errorf("first holder since %v (%s) held %v: want a recent process start", first.Since, first.SinceSource, first.HeldForS)
	}
	if len(d.Holders) != 2 || d.Holders[1].Comm != "sleep" || d.Holders[1].Kind != KindInherited || d.Holders[1].Locker {
		t.Errorf("holders %+v: want the sleeping child as the inherited second holder", d.Holders)
	}
}

// TestDiagnoseRealFree: a lock file nobody holds is diagnosed as not held.
func TestDiagnoseRealFree(t *testing.T) {
	if _, err := os.Stat("/proc/locks"); err != nil {
		t.Skip("no /proc/locks")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "l"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := Diagnose(OSHost{Root: dir}, "/l", nil)
	if err != nil || d.Held || len(d.Holders) != 0 {
		t.Fatalf("got %+v, %v: want not held", d, err)
	}
}

// BenchmarkDiagnoseRealProc diagnoses a lock nobody holds on this machine
// (a /proc/locks read) and one held by a child (the full fdinfo scan).
func BenchmarkDiagnoseRealProc(b *testing.B) {
	dir := b.TempDir()
	lock := filepath.Join(dir, "l")
	if err := os.WriteFile(lock, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Run("free", func(b *testing.B) {
		for b.Loop() {
			if _, err := Diagnose(OSHost{Root: dir}, "/l", nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	holdFlock(b, lock)
	b.Run("held", func(b *testing.B) {
		for b.Loop() {
			if d, err := Diagnose(OSHost{Root: dir}, "/l", nil); err != nil || len(d.Holders) != 2 {
				b.Fatal(d, err)
			}
		}
	})
}

// holdFlock starts `flock --exclusive LOCK sh -c 'echo ready; exec sleep
// 30'`, returns once the child holds the lock, and kills it on cleanup.
func holdFlock(tb testing.TB, lock string) *exec.Cmd {
	tb.Helper()
	if _, err := exec.LookPath("flock"); err != nil {
		tb.Skip("flock(1) not installed")
	}
	cmd := exec.Command("flock", "--exclusive", lock, "sh", "-c", "echo ready; exec sleep 30")
	// Its own process group, so the cleanup ends the sleeping child too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	// flock(1) runs the command only once it holds the lock.
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		tb.Fatalf("child said %q, %v", line, err)
	}
	return cmd
}
