package sim

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nixfleet/nixfleet-activate/proc"
)

// getoptError renders glibc getopt_long's messages, which systemd 252's
// tools print for bad options, then exit 1.
func getoptError(prog, msg string) proc.Result {
	return result(1, "", prog+": "+msg)
}

// runOptions is a parsed systemd-run command line.
type runOptions struct {
	unit, description, serviceType string
	remain, collect                bool
	command                        []string
}

// The simulator emulates the systemd-run options backends/real sends
// (RunCmd, CheckRunCmd) and --collect, which the fidelity tests use to pin
// what a collected unit loses; any other option is ErrNotEmulated.

// systemdRunValued are the emulated systemd-run options taking a value
// ("--unit=U" or "--unit U").
var systemdRunValued = map[string]string{
	"--unit": "unit", "--description": "description", "--service-type": "service-type",
}

// systemdRunFlags are the emulated systemd-run options without a value;
// those mapped to "" are accepted and change nothing here.
var systemdRunFlags = map[string]string{
	"--remain-after-exit": "remain", "--collect": "collect", "--no-ask-password": "",
}

// parseSystemdRun follows systemd-run 252's getopt_long("+...") parse:
// options stop at "--" or the first non-option. It returns a getopt-style
// message for a missing value, ErrNotEmulated for any option not emulated.
func parseSystemdRun(args []string) (runOptions, string, error) {
	var o runOptions
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			o.command = args[i+1:]
			return o, "", nil
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			o.command = args[i:]
			return o, "", nil
		}
		name, value, hasValue := strings.Cut(arg, "=")
		if key, ok := systemdRunValued[name]; ok {
			if !hasValue {
				if i+1 >= len(args) {
					return o, optionNeedsArgument(name), nil
				}
				i++
				value = args[i]
			}
			o.set(key, value)
			continue
		}
		key, ok := systemdRunFlags[arg]
		if !ok {
			return o, "", fmt.Errorf("%w: systemd-run option %s", ErrNotEmulated, arg)
		}
		o.set(key, "")
	}
	return o, "", nil
}

func (o *runOptions) set(key, value string) {
	switch key {
	case "unit":
		o.unit = value
	case "description":
		o.description = value
	case "service-type":
		o.serviceType = value
	case "remain":
		o.remain = true
	case "collect":
		o.collect = true
	}
}

func optionNeedsArgument(name string) string {
	if strings.HasPrefix(name, "--") {
		return fmt.Sprintf("option '%s' requires an argument", name)
	}
	return fmt.Sprintf("option requires an argument -- '%s'", strings.TrimPrefix(name, "-"))
}

// systemdRun emulates `systemd-run --unit=U [--description=D]
// [--remain-after-exit] [--collect] [--service-type=T] [--no-ask-password]
// -- PROGRAM ARGS...` of systemd 252: the
// program must exist ("Failed to find executable P: No such file or
// directory", exit 1); a loaded name is refused ("Failed to start transient
// service unit: Unit U.service was already loaded or has a fragment
// file.", exit 1); otherwise the unit starts, stderr says "Running as unit:
// U.service", exit 0, and a closure's
// bin/switch-to-configuration follows its behaviour in virtual time. With
// --service-type=exec, a main process failing at offset 0 fails the start
// job instead (see jobFailure), exit 1. Without --unit the name is
// "run-r<32 hex digits>.service", as systemd 252 names it (deterministic
// here). --service-type=oneshot is not emulated.
func (h *Host) systemdRun(cmd proc.Cmd) (proc.Result, error) {
	o, msg, err := parseSystemdRun(cmd.Argv[1:])
	switch {
	case err != nil:
		return proc.Result{}, err
	case msg != "":
		return getoptError("systemd-run", msg), nil
	case len(o.command) == 0:
		return result(1, "", "Command line to execute required."), nil
	}
	if fi, err := h.fs.Stat(o.command[0]); err != nil || fi.IsDir() {
		return result(1, "", fmt.Sprintf("Failed to find executable %s: No such file or directory", o.command[0])), nil
	}
	if o.serviceType == "oneshot" {
		// The start job would block until the process ends.
		return proc.Result{}, fmt.Errorf("%w: systemd-run --service-type=oneshot", ErrNotEmulated)
	}
	if o.unit == "" {
		h.nextRun++
		o.unit = "run-r" + sha256Hex(fmt.Sprint("run ", h.nextRun))[:32]
	}
	name := serviceName(o.unit)
	if _, loaded := h.units[name]; loaded {
		return result(1, "", fmt.Sprintf("Failed to start transient service unit: Unit %s was already loaded or has a fragment file.", name)), nil
	}
	u := h.launch(o, name)
	if o.serviceType == "exec" {
		h.clk.Advance(0) // the job completes after execve: run what happens at once
		if msg := h.jobFailure(u); msg != "" {
			return result(1, "", msg), nil
		}
	}
	return result(0, "", "Running as unit: "+name), nil
}

// launch starts the unit and its program.
func (h *Host) launch(o runOptions, name string) *unit {
	u := &unit{UnitState: UnitState{
		Name: name, Description: orDefault(o.description, strings.Join(o.command, " ")),
		Type: orDefault(o.serviceType, "simple"), RemainAfterExit: o.remain, Collect: o.collect,
		Argv: append([]string(nil), o.command...),
	}}
	base, action := switchProgram(o.command)
	h.startUnit(u, base, action)
	if c, ok := h.closures[base]; ok {
		h.runSwitch(u, c, action)
		return u
	}
	if chk, ok := h.healthCheck(o.command); ok {
		h.runCheck(u, chk)
		return u
	}
	// Any other program exits 0 at once.
	h.clk.Schedule(0, func() { h.mainExited(u, CodeExited, 0, false) })
	return u
}

// switchProgram recognises "/nix/store/<base>/bin/switch-to-configuration
// ACTION" and returns base and ACTION.
func switchProgram(command []string) (string, string) {
	base := storeBasename(command[0])
	if base == "" || command[0] != storePath(base)+"/bin/switch-to-configuration" {
		return "", ""
	}
	action := ""
	if len(command) > 1 {
		action = command[1]
	}
	return base, action
}

// The simulator emulates the systemctl command lines backends/real sends
// (UnitStatusCmd, InvocationIDCmd, StopCmd, ResetFailedCmd,
// FailedUnitsCmd, SystemStateCmd) and the spellings of show's options its
// own tests use (-p, --property VALUE, --value); any other verb or option
// is ErrNotEmulated.

// systemctlFlags are the emulated systemctl options without a value, which
// change nothing here (list-units prints plain lines without a legend).
var systemctlFlags = map[string]bool{"--no-legend": true, "--plain": true}

// showOptions is a parsed systemctl command line.
type showOptions struct {
	verb       string
	units      []string
	properties []string
	valueOnly  bool
	// state is list-units' --state=STATE filter.
	state string
}

// parseSystemctl reads options anywhere on the line (getopt_long permutes
// for systemctl) and the verb and unit names. It returns a getopt-style
// message for a missing value, ErrNotEmulated for an option not emulated.
func parseSystemctl(args []string) (showOptions, string, error) {
	var o showOptions
	operandsOnly := false
	for i := 0; i < len(args); i++ {
		arg := args[i]
		name, value, hasValue := strings.Cut(arg, "=")
		switch {
		case operandsOnly:
			o.operand(arg)
		case arg == "--":
			// getopt_long (systemd 252's parse_argv): options end here.
			operandsOnly = true
		case name == "--property" || name == "-p" || name == "-P":
			if !hasValue {
				if i+1 >= len(args) {
					return o, optionNeedsArgument(name), nil
				}
				i++
				value = args[i]
			}
			o.properties = append(o.properties, strings.Split(value, ",")...)
			o.valueOnly = o.valueOnly || name == "-P"
		case name == "--state" && hasValue:
			o.state = value
		case arg == "--value":
			o.valueOnly = true
		case systemctlFlags[arg]:
		case strings.HasPrefix(arg, "-") && arg != "-":
			return o, "", fmt.Errorf("%w: systemctl option %s", ErrNotEmulated, arg)
		default:
			o.operand(arg)
		}
	}
	return o, "", nil
}

// operand takes the verb, then unit names.
func (o *showOptions) operand(arg string) {
	if o.verb == "" {
		o.verb = arg
		return
	}
	o.units = append(o.units, serviceName(arg))
}

// systemctl emulates systemd 252's `systemctl show [--property=A,B]
// [--value] U...`, `systemctl stop U...` and `systemctl reset-failed U...`.
// show always exits 0 (a unit it does not have is LoadState=not-found with
// ExecMainStatus=0); stop of a unit not loaded prints "Failed to stop
// U.service: Unit U.service not loaded." and exits 5; reset-failed of one
// prints "Failed to reset failed state of unit U.service: Unit U.service
// not loaded." and exits 1; list-units --state=failed and
// is-system-running are in listunits.go and health.go. Any other verb is
// ErrNotEmulated.
func (h *Host) systemctl(cmd proc.Cmd) (proc.Result, error) {
	o, msg, err := parseSystemctl(cmd.Argv[1:])
	switch {
	case err != nil:
		return proc.Result{}, err
	case msg != "":
		return getoptError("systemctl", msg), nil
	}
	switch o.verb {
	case "show":
		if len(o.units) == 0 {
			return proc.Result{}, fmt.Errorf("%w: systemctl show without a unit", ErrNotEmulated)
		}
		return result(0, h.show(o), ""), nil
	case "stop":
		return h.eachUnit(o.units, 5, "Failed to stop %[1]s: Unit %[1]s not loaded.", h.stopUnit), nil
	case "reset-failed":
		return h.eachUnit(o.units, 1, "Failed to reset failed state of unit %[1]s: Unit %[1]s not loaded.", h.resetFailed), nil
	case "list-units":
		return h.listUnits(o)
	case "is-system-running":
		return h.isSystemRunning(), nil
	}
	return proc.Result{}, fmt.Errorf("%w: systemctl %q", ErrNotEmulated, o.verb)
}

// wordSet makes a set of the whitespace-separated words of s.
func wordSet(s string) map[string]bool {
	set := map[string]bool{}
	for _, w := range strings.Fields(s) {
		set[w] = true
	}
	return set
}

// eachUnit applies act to each loaded unit; a unit not loaded prints
// notLoaded and makes the command exit with exit. No unit: "Too few
// arguments.", exit 1.
func (h *Host) eachUnit(names []string, exit int, notLoaded string, act func(*unit)) proc.Result {
	if len(names) == 0 {
		return result(1, "", "Too few arguments.")
	}
	var stderr []string
	code := 0
	for _, name := range names {
		u, ok := h.units[name]
		if !ok {
			stderr = append(stderr, fmt.Sprintf(notLoaded, name))
			code = exit
			continue
		}
		act(u)
	}
	return result(code, "", strings.Join(stderr, "\n"))
}

// showOrder is the order in which systemd 252 prints these properties:
// the Service interface's before the Unit interface's, each in its D-Bus
// vtable order (systemctl show prints in that order, not the order asked).
var showOrder = []string{
	"Type", "RemainAfterExit", "MainPID", "Result", "ExecMainPID", "ExecMainCode", "ExecMainStatus",
	"Id", "Description", "LoadState", "ActiveState", "SubState", "CollectMode",
}

// askedOnly are properties printed only when asked for by name.
// GOTCHA: InvocationID's place among the Unit properties is not verified;
// the backend only ever asks for it alone (-P InvocationID).
var askedOnly = []string{"InvocationID"}

// show renders each unit's properties as KEY=VALUE lines (or values only
// with --value), units separated by a blank line. Properties the simulator
// does not model are not printed.
func (h *Host) show(o showOptions) string {
	var b strings.Builder
	for i, name := range o.units {
		if i > 0 {
			b.WriteString("\n\n")
		}
		st, first := h.Unit(name), true
		for _, key := range append(showOrder, askedOnly...) {
			if (len(o.properties) > 0 || contains(askedOnly, key)) && !contains(o.properties, key) {
				continue
			}
			if !first {
				b.WriteByte('\n')
			}
			first = false
			if !o.valueOnly {
				b.WriteString(key)
				b.WriteByte('=')
			}
			b.WriteString(st.property(key))
		}
	}
	return b.String()
}

// property renders one property of the snapshot as systemd 252 prints it
// ("" for one not in showOrder).
func (s UnitState) property(key string) string {
	switch key {
	case "Type":
		return s.Type
	case "RemainAfterExit":
		return yesNo(s.RemainAfterExit)
	case "MainPID":
		return itoa(s.MainPID)
	case "Result":
		return s.Result
	case "ExecMainPID":
		return itoa(s.ExecMainPID)
	case "ExecMainCode":
		return itoa(s.ExecMainCode)
	case "ExecMainStatus":
		return itoa(s.ExecMainStatus)
	case "Id":
		return s.Name
	case "Description":
		return s.Description
	case "LoadState":
		return s.LoadState
	case "ActiveState":
		return s.ActiveState
	case "SubState":
		return s.SubState
	case "InvocationID":
		return s.InvocationID
	case "CollectMode":
		if s.Collect {
			return "inactive-or-failed"
		}
		return "inactive"
	}
	return ""
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func itoa(n int) string { return strconv.Itoa(n) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
