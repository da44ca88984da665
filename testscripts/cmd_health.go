package testscripts

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// healthCommands are the world commands of health checks and confirmation
// (issue 18).
func healthCommands() []command {
	return []command{
		{name: "confirm", usage: "confirm",
			summary: "runs `nixfleet-activate confirm` (pipeline.Confirm): writes the confirmation of the in-flight activation into the state directory, which a run waiting with confirm-within= reads on its next poll; with no activation in flight it changes nothing",
			effect:  confirmEffect},
		{name: "system-state", usage: "system-state running|degraded|starting|...",
			summary: "sets what `systemctl is-system-running` prints (systemd 252: exit 0 only for running)",
			effect:  systemStateEffect},
	}
}

// checkUsage documents closure's check= option.
const checkUsage = "check=NAME[:exit=N|:signal=N|:hang][@D][:timeout=D][:out=TEXT]"

// checkSummary explains check=.
const checkSummary = "; check= (repeatable) ships a health check NAME (nixfleet-activate/health.json and health-checks/NAME) that exits N (default 0) or is killed by signal N at D (default 1s) after its start, or hangs, with the manifest's timeout (default 10s) and one line of journal output TEXT"

// takeChecks removes the check= arguments from args and parses them.
func takeChecks(args []string) ([]string, []sim.Check, error) {
	var rest []string
	var checks []sim.Check
	for _, a := range args {
		spec, ok := strings.CutPrefix(a, "check=")
		if !ok {
			rest = append(rest, a)
			continue
		}
		c, err := parseCheck(spec)
		if err != nil {
			return nil, nil, fmt.Errorf("check=%q: %w", spec, err)
		}
		checks = append(checks, c)
	}
	return rest, checks, nil
}

// parseCheck reads NAME[:exit=N|:signal=N|:hang][@D][:timeout=D][:out=TEXT].
func parseCheck(spec string) (sim.Check, error) {
	parts := strings.Split(spec, ":")
	c := sim.Check{Name: parts[0], At: time.Second, Timeout: 10 * time.Second}
	if c.Name == "" {
		return c, usagef("want a name")
	}
	for _, part := range parts[1:] {
		word, at, hasAt := strings.Cut(part, "@")
		if hasAt {
			d, err := time.ParseDuration(at)
			if err != nil {
				return c, err
			}
			c.At = d
		}
		key, value, _ := strings.Cut(word, "=")
		var err error
		switch key {
		case "exit":
			c.Exit, err = strconv.Atoi(value)
		case "signal":
			c.Signal, err = strconv.Atoi(value)
		case "hang":
			c.Hang = true
		case "timeout":
			c.Timeout, err = time.ParseDuration(value)
		case "out":
			c.Output = value
		default:
			err = fmt.Errorf("unknown part %q", part)
		}
		if err != nil {
			return c, err
		}
	}
	return c, nil
}

func confirmEffect(s *script, args []string) (func() error, error) {
	if len(args) != 0 {
		return nil, usagef("takes no arguments")
	}
	h := s.w.host()
	return func() error {
		d := pipeline.Deps{Journal: s.w.state.Journal(), Confirm: s.w.state.Confirm(), Clock: h.Clock()}
		_, err := pipeline.Confirm(d)
		if errors.Is(err, pipeline.ErrNothingToConfirm) {
			return nil // as the binary: nothing changes
		}
		return err
	}, nil
}

func systemStateEffect(s *script, args []string) (func() error, error) {
	if len(args) != 1 {
		return nil, usagef("want one state word")
	}
	h := s.w.host()
	return func() error { h.SetSystemState(args[0]); return nil }, nil
}

// healthChoices reads require-running, confirm-within= and on-unhealthy=
// over the agent's flags in o.
func healthChoices(p parsed, o *pipeline.Options) error {
	if u := pipeline.OnUnhealthy(p.opts["on-unhealthy"]); !validOnUnhealthy(u) {
		return usagef("on-unhealthy=%q: want rollback or keep", u)
	} else if u != "" {
		o.OnUnhealthy = u
	}
	o.RequireRunning = o.RequireRunning || p.flags["require-running"]
	var err error
	o.ConfirmWithin, err = p.duration("confirm-within", o.ConfirmWithin)
	return err
}
