package lockdiag

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// Kind classifies a holder of the switch lock. The strings are a wire
// contract (outcome field lock_holders[].kind): never rename one.
type Kind string

const (
	// KindSwitch: a switch-to-configuration that is not this agent's (its
	// command line names .../bin/switch-to-configuration).
	KindSwitch Kind = "switch-to-configuration"
	// KindOwnUnit: a process in this agent's own switch or rollback unit.
	KindOwnUnit Kind = "own-unit"
	// KindInherited: a process that holds the lock's descriptor without
	// having taken the lock (a child that inherited it, typically a
	// service a switch started), and is no switch-to-configuration.
	KindInherited Kind = "inherited"
	// KindOther: a process that took the lock itself (the PID /proc/locks
	// names) and is no switch-to-configuration (an operator's flock(1)).
	KindOther Kind = "other"
	// KindZombie: the process has exited and its parent has not reaped it
	// (state Z).
	KindZombie Kind = "zombie"
	// KindUnknown: /proc/<pid> could not be read (the process is gone, or
	// PID 0/-1: a locker outside our PID namespace or an OFD lock).
	KindUnknown Kind = "unknown"
)

// Since sources: where a holder's Since comes from.
const (
	SinceProcessStart = "process-start"
	SinceLockCtime    = "lock-file-ctime"
)

// Holder is one process holding (or, for a zombie locker, named as
// holding) the switch lock. Unknown fields are omitted, never guessed.
type Holder struct {
	PID int `json:"pid"`
	// Locker: /proc/locks names this PID as the one that took the lock;
	// otherwise the process was found holding the lock's open file
	// description (/proc/<pid>/fdinfo).
	Locker bool   `json:"locker,omitempty"`
	Comm   string `json:"comm,omitempty"`
	Kind   Kind   `json:"kind"`
	// State is /proc/<pid>/stat's state letter (R, S, D, Z, T, ...).
	State   string   `json:"state,omitempty"`
	PPID    *int     `json:"ppid,omitempty"`
	Cmdline []string `json:"cmdline,omitempty"`
	// Unit is the systemd unit of the process's cgroup ("x.service").
	Unit string `json:"unit,omitempty"`
	// ParentComm and ParentUnit describe the parent (set for a zombie).
	ParentComm string `json:"parent_comm,omitempty"`
	ParentUnit string `json:"parent_unit,omitempty"`
	// Since is when the holder process started (SinceProcessStart) or,
	// when that is unknown, the lock file's change time (SinceLockCtime).
	// An inherited holder started after the lock was taken: the lock is at
	// least that old.
	Since       *time.Time `json:"since,omitempty"`
	SinceSource string     `json:"since_source,omitempty"`
	// HeldForS is the time from Since to the diagnosis, in whole seconds.
	HeldForS *int64 `json:"held_for_s,omitempty"`
	// Hint says what an operator can do, in one sentence.
	Hint string `json:"hint"`
}

// Diagnosis is who holds the switch lock, as /proc showed it.
type Diagnosis struct {
	// Lock is the lock file's path; File its identity (MAJ:MIN:INODE).
	Lock string `json:"lock"`
	File string `json:"file"`
	// Held: /proc/locks or a holder's fdinfo shows an exclusive (WRITE)
	// lock on the file.
	Held bool `json:"held"`
	// Holders are the processes holding it: the locker /proc/locks names
	// first (when it still exists), then the descriptor's holders by PID.
	Holders []Holder `json:"holders,omitempty"`
	// Waiters are PIDs blocked waiting for the lock ("->" lines).
	Waiters []int `json:"waiters,omitempty"`
	// Kind is the first holder's kind and HeldForS the longest holder's
	// age in seconds: what a monitor alerts on ("blocked for more than N
	// minutes, by what"). Unset when not held or unknown.
	Kind     Kind   `json:"kind,omitempty"`
	HeldForS *int64 `json:"held_for_s,omitempty"`
}

// summarize sets Kind and HeldForS from the holders.
func (d *Diagnosis) summarize() {
	if len(d.Holders) > 0 {
		d.Kind = d.Holders[0].Kind
	}
	for _, h := range d.Holders {
		if h.HeldForS != nil && (d.HeldForS == nil || *h.HeldForS > *d.HeldForS) {
			held := *h.HeldForS
			d.HeldForS = &held
		}
	}
}

// Host is where a diagnosis reads its facts: the real machine (OSHost) or
// the simulated one.
type Host interface {
	// Proc is the view holding /proc/locks, /proc/stat and /proc/<pid>.
	Proc() *fsview.View
	// LockFile identifies the lock file (following links) and returns its
	// change time (ctime). Errors: the file cannot be stat'ed.
	LockFile(path string) (FileID, time.Time, error)
	// Now is the time ages are measured to.
	Now() time.Time
}

// Diagnose finds who holds the lock file at lockPath: the exclusive
// entries of /proc/locks on its inode, the processes whose open file
// descriptions carry that lock (/proc/<pid>/fdinfo), and for each its
// /proc/<pid>/stat, cmdline and cgroup. ownUnits are this agent's unit
// names ("nixfleet-activate-switch" or with ".service"). Errors: the lock
// file or /proc/locks cannot be read (the diagnosis is then unknown); a
// holder whose /proc entries cannot be read is reported with KindUnknown.
func Diagnose(h Host, lockPath string, ownUnits []string) (*Diagnosis, error) {
	id, ctime, err := h.LockFile(lockPath)
	if err != nil {
		return nil, err
	}
	proc := h.Proc()
	data, err := proc.ReadFile("/proc/locks")
	if err != nil {
		return nil, fmt.Errorf("lockdiag: %w", err)
	}
	d := &Diagnosis{Lock: lockPath, File: id.String()}
	lockers := d.readEntries(data, id)
	// GOTCHA: /proc/locks names the process that called flock(2), which may be long gone while a child keeps the descriptor: the fdinfo scan finds who holds it now.
	fdPIDs, fdLockers := fdHolders(proc, id)
	// GOTCHA: in a PID namespace where the locker is not visible (gone, or outside), /proc/locks hides the entry (fs/locks.c locks_show, Linux 4.9+); fdinfo still lists it, with PID 0.
	d.Held = d.Held || len(fdPIDs) > 0
	for _, pid := range fdLockers {
		if pid > 0 && !slices.Contains(lockers, pid) {
			lockers = append(lockers, pid)
		}
	}
	if !d.Held {
		return d, nil
	}
	r := reader{proc: proc, own: serviceNames(ownUnits), now: h.Now(), ctime: ctime}
	r.btime, r.btimeErr = readBtime(proc)
	for _, pid := range holderPIDs(lockers, fdPIDs, proc) {
		d.Holders = append(d.Holders, r.describe(pid, slices.Contains(lockers, pid)))
	}
	d.summarize()
	return d, nil
}

// readEntries keeps the entries of /proc/locks on id: sets Held and
// Waiters, returns the lockers' PIDs of exclusive entries.
func (d *Diagnosis) readEntries(data []byte, id FileID) []int {
	entries, _ := ParseLocks(data)
	var lockers []int
	for _, e := range entries {
		switch {
		case e.File != id:
		case e.Waiter:
			d.Waiters = append(d.Waiters, e.PID)
		case e.Exclusive():
			d.Held = true
			lockers = append(lockers, e.PID)
		}
	}
	return lockers
}

// holderPIDs orders the holders: lockers that still have a /proc entry
// (or that nobody else is found for), then the descriptor holders.
func holderPIDs(lockers, fdPIDs []int, proc *fsview.View) []int {
	var out []int
	for _, pid := range lockers {
		if pid > 0 && exists(proc, pid) && !slices.Contains(out, pid) {
			out = append(out, pid)
		}
	}
	for _, pid := range fdPIDs {
		if !slices.Contains(out, pid) {
			out = append(out, pid)
		}
	}
	if len(out) == 0 && len(lockers) > 0 {
		out = append(out, lockers[0]) // reported as unknown
	}
	return out
}

func exists(proc *fsview.View, pid int) bool {
	_, err := proc.Stat(pidPath(pid, "stat"))
	return err == nil
}

func pidPath(pid int, name string) string { return path.Join("/proc", strconv.Itoa(pid), name) }

// fdHolders lists, sorted, the PIDs with an open file description that
// carries an exclusive lock on id (a "lock:" line of
// /proc/<pid>/fdinfo/<fd>, Linux 3.8+), and the lockers those lines name.
// Unreadable processes (gone, or not ours to read) are skipped.
func fdHolders(proc *fsview.View, id FileID) (pids, lockers []int) {
	dirs, err := proc.ReadDir("/proc")
	if err != nil {
		return nil, nil
	}
	for _, e := range dirs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if locker, ok := heldLock(proc, pid, id); ok {
			pids = append(pids, pid)
			lockers = append(lockers, locker)
		}
	}
	slices.Sort(pids)
	return pids, lockers
}

// heldLock reports whether pid holds an exclusive lock on id, and the
// locker its fdinfo names.
func heldLock(proc *fsview.View, pid int, id FileID) (int, bool) {
	dir := pidPath(pid, "fdinfo")
	fds, err := proc.ReadDir(dir)
	if err != nil {
		return 0, false
	}
	for _, fd := range fds {
		data, err := proc.ReadFile(path.Join(dir, fd.Name()))
		if err != nil {
			continue
		}
		for _, e := range FdinfoLocks(data) {
			if e.File == id && e.Exclusive() {
				return e.PID, true
			}
		}
	}
	return 0, false
}

func readBtime(proc *fsview.View) (time.Time, error) {
	data, err := proc.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, err
	}
	return ParseBtime(data)
}

// serviceNames appends ".service" to names without a unit suffix.
func serviceNames(units []string) []string {
	out := make([]string, 0, len(units))
	for _, u := range units {
		if unitOfPath(u) == "" {
			u += ".service"
		}
		out = append(out, u)
	}
	return out
}

// errNoProc marks a holder whose /proc/<pid>/stat could not be read.
var errNoProc = errors.New("no /proc entry")
