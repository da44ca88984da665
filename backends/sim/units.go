package sim

import (
	"fmt"
	"strings"
	"time"
)

// ExecMainCode values: the si_code of the main process's SIGCHLD, as systemd
// 252 reports it.
const (
	// CodeNone: the main process has not exited (or was never started).
	CodeNone = 0
	// CodeExited (CLD_EXITED): ExecMainStatus is the exit status.
	CodeExited = 1
	// CodeKilled (CLD_KILLED): ExecMainStatus is the signal number.
	CodeKilled = 2
	// CodeDumped (CLD_DUMPED): killed with a core dump; ExecMainStatus is
	// the signal number.
	CodeDumped = 3
)

// sigTERM is the signal `systemctl stop` sends first.
const sigTERM = 15

// cleanDaemonSignals are the signals systemd 252 counts as a clean end of a
// non-oneshot service's main process (EXIT_CLEAN_DAEMON: SIGHUP, SIGINT,
// SIGTERM, SIGPIPE).
var cleanDaemonSignals = map[int]bool{1: true, 2: true, 15: true, 13: true}

// UnitState is a snapshot of a unit as `systemctl show` would report it.
type UnitState struct {
	// Name is the full unit name ("x.service").
	Name        string
	Description string
	// LoadState is "loaded" or, for a unit systemd does not have,
	// "not-found" (every other field then holds systemd's zero values).
	LoadState   string
	ActiveState string
	SubState    string
	Result      string
	// ExecMainCode is CodeNone..CodeDumped; ExecMainStatus the exit status
	// or signal number; both 0 for a unit not loaded (systemd 252).
	ExecMainCode, ExecMainStatus int
	ExecMainPID, MainPID         int
	// Type is the service type ("simple", "exec", ...; "" when not loaded).
	Type            string
	RemainAfterExit bool
	Collect         bool
	// Argv is the unit's command line.
	Argv []string
	// InvocationID is the current invocation's ID (32 hex digits), new at
	// every start; "" when not loaded.
	InvocationID string
}

// UnitRun records one start of a transient unit by systemd-run, kept after
// the unit is unloaded.
type UnitRun struct {
	// Unit is the full unit name.
	Unit string
	// Argv is the unit's command line.
	Argv []string
	// Closure is the basename whose bin/switch-to-configuration ran ("" for
	// another program); Action its verb.
	Closure, Action string
	// StartedAt and ExitedAt are virtual times since the host was created.
	StartedAt, ExitedAt time.Duration
	// Exited reports that the main process has ended; ExecMainCode and
	// ExecMainStatus then say how.
	Exited                       bool
	ExecMainCode, ExecMainStatus int
}

// unit is a loaded transient service.
type unit struct {
	UnitState
	run *UnitRun
	// proc is the running main process, nil once it has ended.
	proc *process
	// lingers is the stop time of a SIGTERM-ignoring process the run left
	// in the unit (SwitchBehaviour.Lingers); 0: none.
	lingers time.Duration
}

// process is a running main process; its scheduled events act only while
// alive is set.
type process struct {
	alive bool
	// locks: a switch-to-configuration holding the switch lock.
	locks bool
	// started is when the process started (its /proc starttime).
	started time.Time
}

// notFoundUnit is what systemd 252 reports for a unit it does not have
// loaded: LoadState=not-found, inactive/dead, Result=success, an empty Type
// and 0 for the exec status (observed with systemd 252; REAL-TOOLS.md: show
// of an unknown unit exits 0 and prints 0).
func notFoundUnit(name string) UnitState {
	return UnitState{Name: name, Description: name, LoadState: "not-found", ActiveState: "inactive",
		SubState: "dead", Result: "success"}
}

// serviceName appends ".service" to a name without a unit type suffix, as
// systemd's unit name mangling does ("a.b" becomes "a.b.service").
func serviceName(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 && unitTypes[name[i+1:]] {
		return name
	}
	return name + ".service"
}

// unitTypes are systemd 252's unit type suffixes.
var unitTypes = wordSet("service socket target device mount automount swap timer path slice scope")

// Unit returns a snapshot of the unit name ("x" or "x.service"): a loaded
// unit's state, or the not-found stub systemd 252 reports.
func (h *Host) Unit(name string) UnitState {
	u, ok := h.units[serviceName(name)]
	if !ok {
		return notFoundUnit(serviceName(name))
	}
	st := u.UnitState
	st.Argv = append([]string(nil), st.Argv...)
	return st
}

// Runs returns every unit start so far, in order (copies).
func (h *Host) Runs() []UnitRun {
	out := make([]UnitRun, len(h.runs))
	for i, r := range h.runs {
		out[i] = *r
		out[i].Argv = append([]string(nil), r.Argv...)
	}
	return out
}

// startUnit loads u as active/running with a fresh main PID and records
// the run.
func (h *Host) startUnit(u *unit, closure, action string) {
	h.nextPID++
	u.LoadState, u.ActiveState, u.SubState, u.Result = "loaded", "active", "running", "success"
	u.ExecMainPID, u.MainPID, u.ExecMainCode, u.ExecMainStatus = h.nextPID, h.nextPID, CodeNone, 0
	u.proc = &process{alive: true, started: h.clk.Now()}
	u.InvocationID = sha256Hex(fmt.Sprint("invocation ", h.nextPID))[:32]
	u.run = &UnitRun{Unit: u.Name, Argv: append([]string(nil), u.Argv...), Closure: closure, Action: action,
		StartedAt: h.Elapsed()}
	h.runs = append(h.runs, u.run)
	h.units[u.Name] = u
}

// mainExited ends u's main process with code and status and moves the unit
// as systemd 252 does. A clean end (exit 0; for non-oneshot services also
// SIGHUP, SIGINT, SIGTERM, SIGPIPE, or any end during a stop) leaves it
// active/exited with RemainAfterExit, else inactive and unloaded (a
// transient unit is garbage-collected once inactive). Any other end leaves
// it failed (Result exit-code, signal or core-dump), unloaded at once with
// --collect.
func (h *Host) mainExited(u *unit, code, status int, stopping bool) {
	if u.proc == nil || !u.proc.alive {
		return
	}
	u.proc.alive = false
	u.proc = nil
	u.MainPID, u.ExecMainCode, u.ExecMainStatus = 0, code, status
	u.run.Exited, u.run.ExitedAt, u.run.ExecMainCode, u.run.ExecMainStatus = true, h.Elapsed(), code, status
	defer h.unitEnded(u.Name)
	// GOTCHA: a SIGTERM is a clean end for a non-oneshot service: Result
	// stays "success" and only ExecMainCode=2 tells it was a signal.
	clean := stopping || (code == CodeExited && status == 0) ||
		(code == CodeKilled && u.Type != "oneshot" && cleanDaemonSignals[status])
	switch {
	case clean && u.RemainAfterExit && !stopping:
		u.ActiveState, u.SubState, u.Result = "active", "exited", "success"
	case clean:
		u.ActiveState, u.SubState, u.Result = "inactive", "dead", "success"
		h.unload(u)
	default:
		u.ActiveState, u.SubState, u.Result = "failed", "failed", failureResult(code)
		if u.Collect {
			h.unload(u)
		}
	}
}

func failureResult(code int) string {
	switch code {
	case CodeKilled:
		return "signal"
	case CodeDumped:
		return "core-dump"
	}
	return "exit-code"
}

// unload drops u from the manager; show then reports not-found.
func (h *Host) unload(u *unit) {
	if h.units[u.Name] == u {
		delete(h.units, u.Name)
	}
}

// stopUnit is `systemctl stop` on a loaded unit: a running main process
// gets SIGTERM and ends; an active unit becomes inactive and is unloaded,
// unless a process it left ignores SIGTERM (lingers): then the stop takes
// that long and the unit stays loaded, failed with Result=timeout; a
// failed unit stays failed.
func (h *Host) stopUnit(u *unit) {
	switch {
	case u.proc != nil:
		h.mainExited(u, CodeKilled, sigTERM, true)
	case u.ActiveState == "active" && u.lingers > 0:
		h.extraCost += u.lingers
		u.ActiveState, u.SubState, u.Result = "failed", "failed", "timeout"
	case u.ActiveState == "active":
		u.ActiveState, u.SubState = "inactive", "dead"
		h.unload(u)
	}
}

// resetFailed is `systemctl reset-failed` on a loaded unit: a failed unit
// becomes inactive and, being transient, is unloaded; others are untouched.
func (h *Host) resetFailed(u *unit) {
	if u.ActiveState == "failed" {
		u.ActiveState, u.SubState, u.Result = "inactive", "dead", "success"
		h.unload(u)
	}
}

// jobFailure is what systemd-run 252 prints when the start job of a
// --service-type=exec unit fails because the main process ended in failure
// before the job completed (observed, racy on a real host; here: an end at
// offset 0): "Job for U failed because REASON." when the unit is still
// loaded, plain "Job for U failed." once --collect has unloaded it, then the
// "See ..." hint. "" when the job succeeded.
func (h *Host) jobFailure(u *unit) string {
	if u.Type != "exec" || !u.run.Exited || u.Result == "success" {
		return ""
	}
	why := ""
	if _, loaded := h.units[u.Name]; loaded {
		why = jobFailureReasons[u.Result]
	}
	return fmt.Sprintf("Job for %[1]s failed%[2]s.\nSee \"systemctl status %[1]s\" and \"journalctl -xeu %[1]s\" for details.", u.Name, why)
}

// jobFailureReasons are systemd 252's explanations by service Result
// (exit-code and signal observed, core-dump from systemd's source).
var jobFailureReasons = map[string]string{
	"exit-code": " because the control process exited with error code",
	"signal":    " because a fatal signal was delivered to the control process",
	"core-dump": " because a fatal signal was delivered causing the control process to dump core",
}
