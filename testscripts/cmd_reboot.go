package testscripts

import (
	"time"
)

// hostEventCommands are events of the host's life outside the agent: a
// reboot and wall clock steps.
func hostEventCommands() []command {
	return []command{
		{name: "reboot", usage: "reboot [into=ALIAS]",
			summary: "reboots the host: every process ends with the old boot (no exit status) and every unit is gone, /run is fresh (switch lock free, /run/nixos gone) with /run/current-system and /run/booted-system on the closure booted, the boot ID (/proc/sys/kernel/random/boot_id) is new, /nix and /var are kept; the closure booted is into= (a choice in the boot menu), else the boot default a switch or boot action set, else the closure booted last (nix-env --set alone writes no boot entry), else the profile's current generation",
			effect:  rebootEffect},
		{name: "clock-step", usage: "clock-step [+|-]DURATION",
			summary: "steps the wall clock the agent reads (clock.Virtual.StepWall), as an NTP step or an RTC set at boot does, while virtual time goes on unchanged (elapsed, scheduled events and running units do not move): -5m puts it 5 minutes back, +1h an hour ahead",
			effect:  clockStepEffect},
	}
}

func rebootEffect(s *script, args []string) (func() error, error) {
	p, err := argSpec{"into="}.parseN(args, 0, "no positional argument")
	if err != nil {
		return nil, err
	}
	into := ""
	if alias, ok := p.opts["into"]; ok {
		if into, err = s.w.basename(alias); err != nil {
			return nil, err
		}
	}
	h := s.w.host()
	return func() error { return h.Reboot(into) }, nil
}

func clockStepEffect(s *script, args []string) (func() error, error) {
	if len(args) != 1 {
		return nil, usagef("want [+|-]DURATION")
	}
	d, err := time.ParseDuration(args[0])
	if err != nil || d == 0 {
		return nil, usagef("%q: want a non-zero duration such as -5m or +1h", args[0])
	}
	clk := s.w.host().Clock()
	return func() error { clk.StepWall(d); return nil }, nil
}
