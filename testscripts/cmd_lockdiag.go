package testscripts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// Issue 19: who holds the switch lock, and `unblock`.

// lockUsage and lockSummary document `lock`, holders included.
const (
	lockUsage   = "lock free|shared|exclusive|stale|file-missing|dir-missing|probe-error|held-by=switch|own-unit|inherited:UNIT|zombie:PARENT [since=D]"
	lockSummary = "puts /run/nixos/switch-to-configuration.lock in a state: held by another switch (exclusive), held shared, left by a dead process (stale), its file or /run/nixos missing, or unprobeable (permission denied); held-by adds a holder the simulated /proc shows (/proc/locks, /proc/PID/{stat,cmdline,cgroup,fdinfo}) that started D ago: a foreign switch-to-configuration (in nixos-rebuild-switch-to-configuration.service), this agent's own switch unit hung in switch-to-configuration, a service UNIT that inherited the lock's descriptor from an exited switch, or a zombie switch whose parent PARENT (in PARENT.service) has not reaped it and keeps the descriptor"
)

// holderEffect parses `lock held-by=KIND[:NAME] [since=D]`.
func holderEffect(s *script, args []string) (func() error, error) {
	p, err := argSpec{"held-by=", "since="}.parseN(args, 0, "no positional argument")
	if err != nil {
		return nil, err
	}
	kind, name, _ := strings.Cut(p.opts["held-by"], ":")
	spec := sim.LockHolder{Kind: sim.HolderKind(kind)}
	switch spec.Kind {
	case sim.HolderSwitch, sim.HolderOwnUnit:
		spec.Unit = name
	case sim.HolderInherited:
		spec.Unit = name
	case sim.HolderZombie:
		spec.Parent = name
	default:
		return nil, usagef("held-by=%q: want switch, own-unit, inherited:UNIT or zombie:PARENT", p.opts["held-by"])
	}
	if spec.Since, err = p.duration("since", 0); err != nil {
		return nil, err
	}
	h := s.w.host()
	return func() error { return h.HoldLock(spec) }, nil
}

func unblockCommand() command {
	return command{name: "unblock", prints: true, usage: "unblock [stop-own-unit] [older-than=D] [unit=NAME]",
		summary: "runs what `nixfleet-activate unblock` runs (real.Backend.Unblock over the simulated host): diagnoses the switch lock and, with stop-own-unit, stops this agent's own switch unit (`systemctl stop`) when it has held the lock longer than D; prints the JSON report and keeps it for `outcome`",
		run:     runUnblock}
}

func runUnblock(s *script, _ bool, args []string) error {
	p, err := argSpec{"stop-own-unit", "older-than=", "unit="}.parseN(args, 0, "no positional argument")
	if err != nil {
		return err
	}
	o := pipeline.Options{SwitchUnit: p.opts["unit"]}.WithDefaults()
	req := real.UnblockRequest{Lock: o.LockPath, OwnUnits: []string{o.SwitchUnit, o.RollbackUnit},
		StopOwnUnit: p.flags["stop-own-unit"]}
	if req.OlderThan, err = p.duration("older-than", 0); err != nil {
		return err
	}
	h := s.w.host()
	b := real.New(real.Config{Runner: h, Locker: h.Locker(), LockDiag: h.LockDiag()})
	s.w.last = &lastRun{logStart: len(h.Log())}
	rep, err := b.Unblock(context.Background(), req)
	if err != nil {
		return err
	}
	return s.keepJSON(rep)
}

// keepJSON prints v as indented JSON and keeps it for `outcome`.
func (s *script) keepJSON(v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	js := bytes.TrimRight(b.Bytes(), "\n")
	fields := map[string]any{}
	if err := json.Unmarshal(js, &fields); err != nil {
		return err
	}
	s.w.last.json, s.w.last.fields = js, fields
	_, err := fmt.Fprintf(s.ts.Stdout(), "%s\n", js)
	return err
}
