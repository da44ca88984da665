package sim

import (
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// Check is a health check a closure ships (nixfleet-activate/health.json
// and nixfleet-activate/health-checks/<Name>, the layout nix/module.nix
// builds), and how its executable behaves when run.
type Check struct {
	// Name is the check's name.
	Name string
	// Timeout is the timeout the manifest gives it (0: none given).
	Timeout time.Duration
	// At is when it ends, from its start.
	At time.Duration
	// Exit is its exit status; Signal, when > 0, kills it instead.
	Exit, Signal int
	// Hang: it never ends on its own.
	Hang bool
	// Output is what it writes to the journal (lines).
	Output string
}

// healthModel is the host's health state: the check units' journal output
// and `systemctl is-system-running`'s word.
type healthModel struct {
	// output is what each invocation's processes wrote to the journal, by
	// invocation ID.
	output map[string][]string
	// state is is-system-running's word ("" reads as running).
	state string
}

func (m healthModel) clone() healthModel {
	return healthModel{output: maps.Clone(m.output), state: m.state}
}

// SetSystemState sets what `systemctl is-system-running` prints
// ("running", "degraded", "starting", ...).
func (h *Host) SetSystemState(state string) { h.health.state = state }

// writeHealth writes a closure's health.json and check executables.
func writeHealth(root string, checks []Check, write func(name, data string) error) error {
	if len(checks) == 0 {
		return nil
	}
	type spec struct {
		Name     string  `json:"name"`
		TimeoutS float64 `json:"timeout_s,omitempty"`
	}
	var m struct {
		Checks []spec `json:"checks"`
	}
	for _, c := range checks {
		m.Checks = append(m.Checks, spec{Name: c.Name, TimeoutS: c.Timeout.Seconds()})
		if err := write(path.Join(root, pipeline.HealthChecks, c.Name), "#!/bin/sh\n# simulated health check "+c.Name+"\n"); err != nil {
			return err
		}
	}
	data, _ := json.Marshal(m)
	return write(path.Join(root, pipeline.HealthManifest), string(data)+"\n")
}

// checksKey is the part of a closure's cache key its checks make.
func checksKey(checks []Check) string {
	var b strings.Builder
	for _, c := range checks {
		fmt.Fprintf(&b, "%s/%s;", c.Name, c.Timeout)
	}
	return b.String()
}

// healthCheck recognises "/nix/store/<base>/nixfleet-activate/health-checks/<name>"
// of a known closure's check.
func (h *Host) healthCheck(command []string) (Check, bool) {
	base := storeBasename(command[0])
	c, ok := h.closures[base]
	if !ok {
		return Check{}, false
	}
	for _, chk := range c.spec.Checks {
		if command[0] == path.Join(storePath(base), pipeline.HealthChecks, chk.Name) {
			return chk, true
		}
	}
	return Check{}, false
}

// runCheck schedules a check's output and end in u.
func (h *Host) runCheck(u *unit, c Check) {
	if h.health.output == nil {
		h.health.output = map[string][]string{}
	}
	lines := []string(nil)
	if c.Output != "" {
		lines = strings.Split(c.Output, "\n")
	}
	h.health.output[u.InvocationID] = lines
	if c.Hang {
		return
	}
	h.after(u, c.At, func() { h.endMain(u, c.Exit, c.Signal, false) })
}

// journalctl emulates systemd 252's `journalctl _SYSTEMD_INVOCATION_ID=ID
// -n N --no-pager -o cat`: the last N lines that invocation's processes
// wrote, message text only; none prints "-- No entries --" and exits 0;
// and `journalctl --sync` (exit 0, nothing printed). Other uses are not
// emulated.
func (h *Host) journalctl(cmd proc.Cmd) (proc.Result, error) {
	var invocation string
	n := 10
	args := cmd.Argv[1:]
	if len(args) == 1 && args[0] == "--sync" {
		return result(0, "", ""), nil // everything is stored at once here
	}
	for i := 0; i < len(args); i++ {
		if id, ok := strings.CutPrefix(args[i], "_SYSTEMD_INVOCATION_ID="); ok {
			invocation = id
			continue
		}
		switch args[i] {
		case "-n":
			if i+1 < len(args) {
				i++
				n, _ = strconv.Atoi(args[i])
			}
		case "--no-pager":
		case "-o":
			if i+1 >= len(args) || args[i+1] != "cat" {
				return proc.Result{}, fmt.Errorf("%w: journalctl -o other than cat", ErrNotEmulated)
			}
			i++
		default:
			return proc.Result{}, fmt.Errorf("%w: journalctl %s", ErrNotEmulated, args[i])
		}
	}
	lines := h.health.output[invocation]
	if len(lines) == 0 {
		return result(0, "-- No entries --\n", ""), nil
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return result(0, strings.Join(lines, "\n")+"\n", ""), nil
}

// isSystemRunning emulates `systemctl is-system-running` (systemd 252):
// prints the state, exits 0 only for "running".
func (h *Host) isSystemRunning() proc.Result {
	state := h.health.state
	if state == "" {
		state = "running"
	}
	code := 0
	if state != "running" {
		code = 1
	}
	return result(code, state+"\n", "")
}
