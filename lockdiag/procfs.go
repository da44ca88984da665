package lockdiag

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ClkTck is the unit of /proc/<pid>/stat's starttime: clock ticks of
// USER_HZ, which the kernel fixes at 100 on every architecture NixOS runs
// on (x86_64, aarch64, riscv64; `getconf CLK_TCK` prints 100). It is an
// assumption, not read from the host: Go cannot call sysconf(_SC_CLK_TCK)
// without cgo.
const ClkTck = 100

// FileID identifies a file as /proc/locks names it: the device's major and
// minor numbers and the inode number.
type FileID struct {
	Major, Minor uint32
	Inode        uint64
}

// String renders the identity as /proc/locks prints it, "MAJ:MIN:INODE"
// with the device in hexadecimal ("fe:00:9980725", "00:19:1234").
func (id FileID) String() string {
	return fmt.Sprintf("%02x:%02x:%d", id.Major, id.Minor, id.Inode)
}

// LockEntry is one line of /proc/locks, as Linux's fs/locks.c
// lock_get_status prints it (format stable since Linux 2.6; OFDLCK since
// 3.15):
//
//	1: FLOCK  ADVISORY  WRITE 18204 fe:00:9980725 0 EOF
//	1: -> FLOCK  ADVISORY  WRITE 18300 fe:00:9980725 0 EOF
//	2: OFDLCK ADVISORY  READ  -1 00:19:44 0 EOF
//
// A "->" line is a waiter blocked on the entry above it.
type LockEntry struct {
	// ID is the entry's ordinal (waiters repeat their blocker's).
	ID int
	// Waiter marks a "->" line: blocked, not holding.
	Waiter bool
	// Class is FLOCK, POSIX, OFDLCK, LEASE, DELEG, ...
	Class string
	// Access is READ, WRITE (or, for leases, BREAKING, UNLCK, ...).
	Access string
	// PID is the process that took the lock (fl_pid): for flock(2) the
	// locker even after it exited while a child kept the descriptor; -1
	// for OFD locks; 0 when the locker is gone or outside our PID
	// namespace (Linux 4.14+).
	PID  int
	File FileID
}

// Exclusive reports whether the entry holds the file exclusively.
func (e LockEntry) Exclusive() bool { return !e.Waiter && e.Access == "WRITE" }

// ParseLocks parses /proc/locks (or the "lock:" lines of a
// /proc/<pid>/fdinfo file with the prefix removed). Lines it cannot read
// are skipped; the count of skipped lines is returned so a caller can tell
// an unknown format from an empty table.
func ParseLocks(data []byte) (entries []LockEntry, skipped int) {
	for _, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		e, ok := parseLockLine(line)
		if !ok {
			skipped++
			continue
		}
		entries = append(entries, e)
	}
	return entries, skipped
}

func parseLockLine(line string) (LockEntry, bool) {
	f := strings.Fields(line)
	if len(f) < 5 || !strings.HasSuffix(f[0], ":") {
		return LockEntry{}, false
	}
	var e LockEntry
	var err error
	if e.ID, err = strconv.Atoi(strings.TrimSuffix(f[0], ":")); err != nil {
		return LockEntry{}, false
	}
	f = f[1:]
	if f[0] == "->" {
		e.Waiter, f = true, f[1:]
	}
	// GOTCHA: the mode word varies (ADVISORY, MANDATORY, ACTIVE, BREAKING): read by position.
	if len(f) < 5 {
		return LockEntry{}, false
	}
	e.Class, e.Access = f[0], f[2]
	if e.PID, err = strconv.Atoi(f[3]); err != nil {
		return LockEntry{}, false
	}
	id, ok := parseFileID(f[4])
	if !ok {
		return LockEntry{}, false
	}
	e.File = id
	return e, true
}

// parseFileID reads "MAJ:MIN:INODE" (hexadecimal device, decimal inode).
func parseFileID(s string) (FileID, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return FileID{}, false
	}
	major, err1 := strconv.ParseUint(parts[0], 16, 32)
	minor, err2 := strconv.ParseUint(parts[1], 16, 32)
	ino, err3 := strconv.ParseUint(parts[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return FileID{}, false
	}
	return FileID{Major: uint32(major), Minor: uint32(minor), Inode: ino}, true
}

// FdinfoLocks returns the locks an fdinfo file (/proc/<pid>/fdinfo/<fd>,
// Linux 3.8+: "lock:\t1: FLOCK ...") lists for that open file description.
func FdinfoLocks(data []byte) []LockEntry {
	var lines []byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("lock:")); ok {
			lines = append(append(lines, rest...), '\n')
		}
	}
	entries, _ := ParseLocks(lines)
	return entries
}

// ProcStat is what the diagnosis needs of /proc/<pid>/stat (proc(5),
// fields 2, 3, 4 and 22).
type ProcStat struct {
	// Comm is the command name, at most 15 bytes (TASK_COMM_LEN 16).
	Comm string
	// State is one letter: R running, S sleeping, D uninterruptible
	// (disk) sleep, Z zombie, T stopped, t traced, I idle, X dead.
	State string
	PPID  int
	// StartTicks is the start time after boot in clock ticks (ClkTck).
	StartTicks uint64
}

// ParseStat parses /proc/<pid>/stat. The command name is between the first
// "(" and the last ")": it may itself hold spaces and parentheses.
func ParseStat(data []byte) (ProcStat, error) {
	s := strings.TrimSpace(string(data))
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return ProcStat{}, fmt.Errorf("lockdiag: /proc/<pid>/stat: no (comm) in %q", s)
	}
	st := ProcStat{Comm: s[open+1 : closing]}
	rest := strings.Fields(s[closing+1:])
	// rest[0] is field 3 (state); starttime is field 22, rest[19].
	if len(rest) < 20 {
		return ProcStat{}, fmt.Errorf("lockdiag: /proc/<pid>/stat: %d fields after comm, want 20 or more", len(rest))
	}
	st.State = rest[0]
	var err error
	if st.PPID, err = strconv.Atoi(rest[1]); err != nil {
		return ProcStat{}, fmt.Errorf("lockdiag: /proc/<pid>/stat: ppid %q", rest[1])
	}
	if st.StartTicks, err = strconv.ParseUint(rest[19], 10, 64); err != nil {
		return ProcStat{}, fmt.Errorf("lockdiag: /proc/<pid>/stat: starttime %q", rest[19])
	}
	return st, nil
}

// ParseCmdline splits /proc/<pid>/cmdline (NUL-separated, NUL-terminated)
// into argv; a zombie or kernel thread has none.
func ParseCmdline(data []byte) []string {
	s := strings.TrimRight(string(data), "\x00")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}

// ParseBtime returns the boot time from /proc/stat's "btime SECONDS" line.
func ParseBtime(data []byte) (time.Time, error) {
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("lockdiag: /proc/stat: btime %q", v)
			}
			return time.Unix(secs, 0).UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("lockdiag: /proc/stat: no btime line")
}

// CgroupUnit returns the systemd unit a process runs in from
// /proc/<pid>/cgroup: the first path component ending in .service or
// .scope of the cgroup v2 line "0::/system.slice/U.service[/...]", else of
// the v1 "name=systemd" hierarchy (hybrid hosts). "" when none (a kernel
// thread, the root cgroup, a process in a slice only).
func CgroupUnit(data []byte) string {
	var v1 string
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			if u := unitOfPath(parts[2]); u != "" {
				return u
			}
		case parts[1] == "name=systemd":
			v1 = unitOfPath(parts[2])
		}
	}
	return v1
}

func unitOfPath(p string) string {
	for _, c := range strings.Split(p, "/") {
		if strings.HasSuffix(c, ".service") || strings.HasSuffix(c, ".scope") {
			return c
		}
	}
	return ""
}
