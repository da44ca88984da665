package lockdiag

import (
	"testing"
	"time"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// memHost is a Host over an in-memory /proc.
type memHost struct {
	v     *fsview.View
	id    FileID
	ctime time.Time
	now   time.Time
}

func (m memHost) Proc() *fsview.View { return m.v }
func (m memHost) LockFile(string) (FileID, time.Time, error) {
	return m.id, m.ctime, nil
}
func (m memHost) Now() time.Time { return m.now }

func newMemHost(t *testing.T, files map[string]string) memHost {
	t.Helper()
	v := fsview.NewMem()
	for name, data := range files {
		if err := v.MkdirAll(name[:len(name)-len(fsview.Basename(name))], 0o755); err != nil {
			t.Fatal(err)
		}
		if err := v.WriteFile(name, []byte(data), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	ctime := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	return memHost{v: v, id: FileID{Minor: 0x19, Inode: 77}, ctime: ctime, now: ctime.Add(90 * time.Minute)}
}

// A locker that is gone, with no descriptor holder readable (fdinfo needs
// privileges): one holder of unknown kind, dated by the lock file's ctime.
func TestDiagnoseUnknownHolderFallsBackToCtime(t *testing.T) {
	h := newMemHost(t, map[string]string{
		"/proc/locks": "1: FLOCK  ADVISORY  WRITE 0 00:19:77 0 EOF\n2: FLOCK  ADVISORY  WRITE 9 00:19:78 0 EOF\n",
		"/proc/stat":  "btime 1796000000\n",
	})
	d, err := Diagnose(h, "/run/nixos/switch-to-configuration.lock", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Held || len(d.Holders) != 1 {
		t.Fatalf("got %+v: want one holder", d)
	}
	got := d.Holders[0]
	if got.Kind != KindUnknown || got.Comm != "" || got.PPID != nil || got.SinceSource != SinceLockCtime ||
		*got.HeldForS != 5400 || !got.Since.Equal(h.ctime) {
		t.Errorf("holder %+v: want unknown, nothing guessed, 5400 s since the ctime", got)
	}
	if d.HeldForS == nil || *d.HeldForS != 5400 || d.Kind != KindUnknown {
		t.Errorf("diagnosis held for %v, kind %q: want 5400 s, unknown", d.HeldForS, d.Kind)
	}
}

// Shared locks and waiters do not make the lock held.
func TestDiagnoseSharedIsFree(t *testing.T) {
	h := newMemHost(t, map[string]string{
		"/proc/locks": "1: FLOCK  ADVISORY  READ  12 00:19:77 0 EOF\n1: -> FLOCK  ADVISORY  WRITE 13 00:19:77 0 EOF\n",
	})
	d, err := Diagnose(h, "/l", nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Held || len(d.Holders) != 0 || len(d.Waiters) != 1 || d.Waiters[0] != 13 {
		t.Errorf("got %+v: want not held, waiter 13", d)
	}
	if d.HeldForS != nil || d.Kind != "" {
		t.Error("a free lock has an age or a kind")
	}
}

// In a PID namespace that cannot see the locker, /proc/locks hides the
// entry (observed in a systemd-nspawn container, Linux 6.x); the holder's
// fdinfo still shows the lock, with PID 0, and makes it held.
func TestDiagnoseHiddenEntryFoundByFdinfo(t *testing.T) {
	h := newMemHost(t, map[string]string{
		"/proc/locks":         "1: OFDLCK ADVISORY  READ -1 fe:00:794641 0 EOF\n",
		"/proc/stat":          "btime 1796000000\n",
		"/proc/38/stat":       "38 (sh) S 1 38 38 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n",
		"/proc/38/cmdline":    "/bin/sh\x00/x/bin/switch-to-configuration\x00switch\x00",
		"/proc/38/cgroup":     "0::/system.slice/other.service\n",
		"/proc/38/fdinfo/11":  "pos:\t0\nlock:\t1: FLOCK  ADVISORY  WRITE 0 00:19:77 0 EOF\n",
		"/proc/39/fdinfo/3":   "pos:\t0\nlock:\t1: FLOCK  ADVISORY  READ 0 00:19:77 0 EOF\n",
		"/proc/self/fdinfo/0": "pos:\t0\n",
	})
	d, err := Diagnose(h, "/l", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Held || len(d.Holders) != 1 {
		t.Fatalf("got %+v: want held by PID 38 only", d)
	}
	got := d.Holders[0]
	if got.PID != 38 || got.Kind != KindSwitch || got.Locker || got.Unit != "other.service" ||
		!got.Since.Equal(time.Unix(1796000001, 0)) {
		t.Errorf("holder %+v: want the switch-to-configuration in other.service, started 1 s after boot", got)
	}
}
