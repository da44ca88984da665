package lockdiag

import (
	"strings"
	"testing"
	"time"
)

// Lines as Linux 6.x prints them (fs/locks.c lock_get_status), waiters
// and an OFD lock included.
const procLocks = `1: FLOCK  ADVISORY  WRITE 18204 fe:00:9980725 0 EOF
1: -> FLOCK  ADVISORY  WRITE 18300 fe:00:9980725 0 EOF
2: OFDLCK ADVISORY  READ  -1 00:19:44 0 EOF
3: POSIX  ADVISORY  WRITE 699 00:16:28457 0 EOF
garbage
`

func TestParseLocks(t *testing.T) {
	entries, skipped := ParseLocks([]byte(procLocks))
	if skipped != 1 || len(entries) != 4 {
		t.Fatalf("got %d entries, %d skipped: want 4, 1", len(entries), skipped)
	}
	want := LockEntry{ID: 1, Class: "FLOCK", Access: "WRITE", PID: 18204, File: FileID{Major: 0xfe, Inode: 9980725}}
	if entries[0] != want || !entries[0].Exclusive() {
		t.Errorf("entry 0 = %+v, want %+v (exclusive)", entries[0], want)
	}
	if !entries[1].Waiter || entries[1].Exclusive() || entries[1].PID != 18300 {
		t.Errorf("entry 1 = %+v: want a waiter, not exclusive", entries[1])
	}
	if entries[2].PID != -1 || entries[2].Class != "OFDLCK" || entries[2].File.String() != "00:19:44" {
		t.Errorf("entry 2 = %+v: want the OFD lock, pid -1, 00:19:44", entries[2])
	}
}

func TestFdinfoLocks(t *testing.T) {
	data := "pos:\t0\nflags:\t0100000\nmnt_id:\t27\nino:\t9980725\nlock:\t1: FLOCK  ADVISORY  WRITE 18204 fe:00:9980725 0 EOF\n"
	got := FdinfoLocks([]byte(data))
	if len(got) != 1 || got[0].PID != 18204 || got[0].File.Inode != 9980725 {
		t.Fatalf("got %+v", got)
	}
}

func TestParseStat(t *testing.T) {
	// comm may hold spaces and ")".
	st, err := ParseStat([]byte("42 (a b) c) Z 7 42 42 0 -1 4194304 93 0 0 0 0 0 0 0 20 0 1 0 26423 2990080 392\n"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Comm != "a b) c" || st.State != "Z" || st.PPID != 7 || st.StartTicks != 26423 {
		t.Errorf("got %+v", st)
	}
	if _, err := ParseStat([]byte("42 (x) S 1")); err == nil {
		t.Error("a truncated stat parsed")
	}
}

func TestCgroupUnit(t *testing.T) {
	for in, want := range map[string]string{
		"0::/system.slice/nixfleet-activate-switch.service\n": "nixfleet-activate-switch.service",
		"0::/system.slice/foo.service/payload\n":              "foo.service",
		"0::/user.slice/user-0.slice/session-3.scope\n":       "session-3.scope",
		"0::/\n": "",
		"9:name=systemd:/system.slice/cron.service\n4:memory:/x\n0::/\n":       "cron.service",
		"1:name=systemd:/system.slice/a.service\n0::/system.slice/b.service\n": "b.service",
	} {
		if got := CgroupUnit([]byte(in)); got != want {
			t.Errorf("CgroupUnit(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseBtimeAndCmdline(t *testing.T) {
	bt, err := ParseBtime([]byte("cpu  1 2 3\nbtime 1796052381\nprocesses 9\n"))
	if err != nil || !bt.Equal(time.Unix(1796052381, 0)) {
		t.Fatalf("btime %v, %v", bt, err)
	}
	if argv := ParseCmdline([]byte("/bin/sleep\x0030\x00")); len(argv) != 2 || argv[1] != "30" {
		t.Errorf("argv %q", argv)
	}
	if argv := ParseCmdline(nil); argv != nil {
		t.Errorf("a zombie's empty cmdline gave %q", argv)
	}
}

func TestIsSwitch(t *testing.T) {
	for argv, want := range map[string]bool{
		"/nix/store/h-nixos-system-x/bin/switch-to-configuration":                            true,
		"/nix/store/p-perl/bin/perl /nix/store/h-nixos-system-x/bin/switch-to-configuration": true,
		"/bin/sleep 30": false,
		"/bin/sh -c x /nix/store/h/bin/switch-to-configuration": false,
	} {
		if got := IsSwitch(strings.Fields(argv)); got != want {
			t.Errorf("IsSwitch(%q) = %v", argv, got)
		}
	}
}
