package sim

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/fsview"
	"github.com/nixfleet/nixfleet-activate/lockdiag"
)

// HolderKind is a holder of the switch lock a scenario puts on the host,
// outside the simulated units (issue 19).
type HolderKind string

const (
	// HolderSwitch: a switch-to-configuration outside this agent (run by
	// nixos-rebuild in its transient unit
	// nixos-rebuild-switch-to-configuration.service, NixOS 24.05+).
	HolderSwitch HolderKind = "switch"
	// HolderOwnUnit: this agent's own switch unit, hung in
	// switch-to-configuration: a loaded, running transient unit whose
	// process never ends (systemctl stop ends it).
	HolderOwnUnit HolderKind = "own-unit"
	// HolderInherited: a service that inherited the lock's descriptor from
	// a switch-to-configuration that has exited; /proc/locks still names
	// the dead switch's PID.
	HolderInherited HolderKind = "inherited"
	// HolderZombie: a switch-to-configuration that exited and that its
	// parent has not reaped. A zombie has no descriptors: the parent kept
	// one to the lock's open file description, so the lock stays held.
	HolderZombie HolderKind = "zombie"
)

// LockHolder describes one holder for HoldLock.
type LockHolder struct {
	Kind HolderKind
	// Unit is the service of an inherited holder ("x.service"), or the
	// unit of an own-unit holder (default nixfleet-activate-switch).
	Unit string
	// Parent is a zombie's parent's command name; it runs in
	// "<Parent>.service".
	Parent string
	// Since is how long before now the holder started (virtual time).
	Since time.Duration
}

// Lock identity and boot time of the simulated /proc: /run is a tmpfs
// (device 00:19 on a typical NixOS host), the host booted 30 days before
// it was created.
const (
	simLockInode = 4242
	simUptime    = 30 * 24 * time.Hour
	// commLen is TASK_COMM_LEN-1: the kernel keeps 15 bytes of a name.
	commLen = 15
	// holderPIDBase numbers outside holders apart from unit PIDs.
	holderPIDBase = 4000
)

var simLockDevice = lockdiag.FileID{Major: 0, Minor: 0x19}

// procEntry is one process of the simulated /proc.
type procEntry struct {
	pid, ppid int
	comm      string
	argv      []string
	unit      string
	state     string
	started   time.Time
	// locker is the PID /proc/locks names for the lock this process's
	// descriptor carries; 0 when the process has no such descriptor.
	locker int
	// named: /proc/locks names this process (a zombie locker) although it
	// carries no descriptor.
	named bool
}

// holderSet is the outside holders of a lockModel; entries are never
// changed once added.
type holderSet []*procEntry

// HoldLock adds an outside holder of the switch lock (its file created if
// missing): the lock probe then finds it held, and /proc (LockDiag) shows
// the holder. SetLock removes every outside holder. Errors: an unknown
// kind, a missing Unit or Parent, or a view error.
func (h *Host) HoldLock(spec LockHolder) error {
	if err := h.ensureLockFile(); err != nil {
		return err
	}
	started := h.clk.Now().Add(-spec.Since)
	switch spec.Kind {
	case HolderSwitch:
		h.addHolder(&procEntry{comm: comm("switch-to-configuration"), argv: foreignSwitchArgv(),
			unit: "nixos-rebuild-switch-to-configuration.service", state: "S", ppid: 1, started: started}, true)
	case HolderOwnUnit:
		name := serviceName(orDefault(spec.Unit, "nixfleet-activate-switch"))
		if _, loaded := h.units[name]; loaded {
			return fmt.Errorf("sim: unit %s is already loaded", name)
		}
		h.hangOwnUnit(name, started)
	case HolderInherited:
		if spec.Unit == "" {
			return fmt.Errorf("sim: an inherited holder needs its unit")
		}
		name := strings.TrimSuffix(serviceName(spec.Unit), ".service")
		p := &procEntry{comm: comm(name), argv: []string{"/run/current-system/sw/bin/" + name},
			unit: serviceName(spec.Unit), state: "S", ppid: 1, started: started}
		h.addHolder(p, false)
		p.locker = h.newHolderPID() // the switch that took the lock, gone
	case HolderZombie:
		if spec.Parent == "" {
			return fmt.Errorf("sim: a zombie holder needs its parent")
		}
		h.addZombie(spec.Parent, started)
	default:
		return fmt.Errorf("sim: unknown lock holder kind %q", spec.Kind)
	}
	return nil
}

func (h *Host) ensureLockFile() error {
	if err := h.fs.MkdirAll(path.Dir(h.cfg.LockPath), 0o755); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	if !h.exists(h.cfg.LockPath) {
		if err := h.fs.WriteFile(h.cfg.LockPath, nil, 0o644); err != nil {
			return fmt.Errorf("sim: %w", err)
		}
		h.lock.ctime = h.clk.Now()
	}
	return nil
}

func (h *Host) newHolderPID() int {
	h.lock.lastPID++
	return holderPIDBase + h.lock.lastPID
}

// addHolder numbers p and adds it; self: p took the lock itself.
func (h *Host) addHolder(p *procEntry, self bool) {
	p.pid = h.newHolderPID()
	if self {
		p.locker = p.pid
	}
	h.lock.holders = append(slices.Clip(h.lock.holders), p)
}

// addZombie adds a parent service keeping the descriptor and its zombie
// child, the switch-to-configuration that took the lock.
func (h *Host) addZombie(parent string, started time.Time) {
	pp := &procEntry{comm: comm(parent), argv: []string{"/run/current-system/sw/bin/" + parent},
		unit: serviceName(parent), state: "S", ppid: 1, started: started}
	h.addHolder(pp, false)
	z := &procEntry{comm: comm("switch-to-configuration"), unit: pp.unit, state: "Z", ppid: pp.pid,
		started: started, named: true}
	h.addHolder(z, true)
	pp.locker = z.pid
}

// hangOwnUnit loads unit as a running transient service whose
// switch-to-configuration holds the lock and never ends.
func (h *Host) hangOwnUnit(name string, started time.Time) {
	u := &unit{UnitState: UnitState{Name: name, Description: "switch-to-configuration switch (hung)",
		Type: "exec", RemainAfterExit: true, Argv: foreignSwitchArgv()}}
	h.startUnit(u, "", "switch")
	u.proc.locks, u.proc.started = true, started
}

func foreignSwitchArgv() []string {
	return []string{storePath(FakeBasename("nixos-system-other-24.11", "foreign")) + "/bin/switch-to-configuration", "switch"}
}

func comm(name string) string {
	if len(name) > commLen {
		return name[:commLen]
	}
	return name
}

// clone copies the model; holders are never changed in place.
func (l lockModel) clone() lockModel {
	l.holders = slices.Clone(l.holders)
	return l
}

// heldOutside reports whether an outside holder keeps the lock.
func (l lockModel) heldOutside() bool { return len(l.holders) > 0 }

// LockDiag returns the host as lockdiag sees a machine: an in-memory /proc
// rendered from the simulated processes at each call, the lock file's
// identity, and the virtual clock.
func (h *Host) LockDiag() lockdiag.Host { return lockDiagHost{h} }

type lockDiagHost struct{ h *Host }

func (l lockDiagHost) Now() time.Time { return l.h.clk.Now() }

// LockFile stats the lock file through the host's view (following links)
// and gives it a fixed identity on /run's tmpfs. Errors: the stat's.
func (l lockDiagHost) LockFile(name string) (lockdiag.FileID, time.Time, error) {
	if _, err := l.h.fs.Stat(name); err != nil {
		return lockdiag.FileID{}, time.Time{}, err
	}
	id := simLockDevice
	id.Inode = simLockInode
	if name != l.h.cfg.LockPath {
		id.Inode = simLockInode + 1 + uint64(len(name)) // another file, another inode
	}
	ctime := l.h.lock.ctime
	if ctime.IsZero() {
		ctime = l.h.start
	}
	return id, ctime, nil
}

// Proc renders /proc/stat, /proc/locks and each holder's
// /proc/<pid>/{stat,cmdline,cgroup,fdinfo/3} into a new in-memory view, in
// the formats of Linux 6.x (see lockdiag).
func (l lockDiagHost) Proc() *fsview.View {
	h := l.h
	v := fsview.NewMem()
	boot := h.start.Add(-simUptime)
	must(v.MkdirAll("/proc", 0o555))
	must(v.WriteFile("/proc/stat", fmt.Appendf(nil, "cpu  0 0 0 0\nbtime %d\n", boot.Unix()), 0o444))
	id := simLockDevice
	id.Inode = simLockInode
	var locks strings.Builder
	n := 0
	for _, p := range h.procEntries() {
		writeProc(v, p, boot, id)
		if p.locker == p.pid || (p.locker != 0 && !h.hasProc(p.locker)) {
			n++
			fmt.Fprintf(&locks, "%d: FLOCK  ADVISORY  WRITE %d %s 0 EOF\n", n, p.locker, id)
		}
	}
	must(v.WriteFile("/proc/locks", []byte(locks.String()), 0o444))
	return v
}

// procEntries are the outside holders and the running switch units.
func (h *Host) procEntries() []*procEntry {
	out := slices.Clone(h.lock.holders)
	for _, name := range h.unitNames() {
		u := h.units[name]
		if u.proc == nil || !u.proc.alive || !u.proc.locks {
			continue
		}
		out = append(out, &procEntry{pid: u.MainPID, ppid: 1, comm: comm("switch-to-configuration"),
			argv: u.Argv, unit: u.Name, state: "S", started: u.proc.started, locker: u.MainPID})
	}
	return out
}

func (h *Host) hasProc(pid int) bool {
	return slices.ContainsFunc(h.procEntries(), func(p *procEntry) bool { return p.pid == pid })
}

// writeProc renders one process; a zombie has an empty cmdline and no
// descriptors.
func writeProc(v *fsview.View, p *procEntry, boot time.Time, id lockdiag.FileID) {
	dir := "/proc/" + strconv.Itoa(p.pid)
	must(v.MkdirAll(dir+"/fdinfo", 0o555))
	ticks := p.started.Sub(boot) / (time.Second / lockdiag.ClkTck)
	stat := fmt.Sprintf("%d (%s) %s %d %d %d 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 %d 0 0\n",
		p.pid, p.comm, p.state, p.ppid, p.pid, p.pid, ticks)
	must(v.WriteFile(dir+"/stat", []byte(stat), 0o444))
	var cmdline []byte
	for _, a := range p.argv {
		cmdline = append(append(cmdline, a...), 0)
	}
	must(v.WriteFile(dir+"/cmdline", cmdline, 0o444))
	must(v.WriteFile(dir+"/cgroup", []byte("0::/system.slice/"+p.unit+"\n"), 0o444))
	if p.locker != 0 && !p.named {
		info := fmt.Sprintf("pos:\t0\nflags:\t02100000\nmnt_id:\t25\nino:\t%d\nlock:\t1: FLOCK  ADVISORY  WRITE %d %s 0 EOF\n",
			id.Inode, p.locker, id)
		must(v.WriteFile(dir+"/fdinfo/3", []byte(info), 0o444))
	}
}

// must panics on an in-memory view error, which only a bug can cause.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

// unitNames lists the loaded units' names, sorted.
func (h *Host) unitNames() []string {
	names := make([]string, 0, len(h.units))
	for name := range h.units {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
