package explore

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
)

// Fault is one named change to the baseline world.
type Fault struct {
	// Name is unique in the catalogue ("lock=exclusive").
	Name string
	// Group: a combination holds at most one fault of a group.
	Group string
	// Point says where the fault is injected.
	Point string
	// ops are the operations the fault applies to.
	ops []Op
	// requires names a group one of whose faults must be in the
	// combination too (a boot failure needs a deferral to happen).
	requires string
	apply    func(*Spec)
}

// Applies reports whether the fault applies to op.
func (f Fault) Applies(op Op) bool { return slices.Contains(f.ops, op) }

var (
	both         = []Op{OpActivate, OpRollback}
	activateOnly = []Op{OpActivate}
	rollbackOnly = []Op{OpRollback}
)

// groupOp is the group of the fault that turns a run into a rollback.
const groupOp = "op"

// Stderr texts of the command faults, each the tool's own wording.
const (
	// Nix 2.8 (observed, REAL-TOOLS.md and the sim's e2e test): nix-env
	// cannot take the profile's lock.
	profileLockDenied = "error: opening lock file '/nix/var/nix/profiles/system.lock': Permission denied"
	// Nix 2.x (libutil's EndOfFile): the daemon or a substituter connection
	// died mid-transfer.
	unexpectedEOF = "error: unexpected end-of-file"
	// systemd 252: systemctl and systemd-run when the system manager's bus
	// cannot be reached.
	busUnreachable = "Failed to connect to bus: No such file or directory"
)

// Time slots, virtual time. Unit offsets count from the unit's start (the
// baseline fires at +240ms: realise 150 ms, nix-env 90 ms); host times
// (at, kill@) from the host's creation. The baseline switch flips at 3 s
// and exits at 5 s; the agent polls at +2.275 s and +4.275 s (settled),
// reads the unit at +4.275 s (running) and +6.275 s (exited 0).
const (
	slotEarly  = 1 * time.Second  // before the flip
	slotMid    = 8 * time.Second  // after the baseline's end
	slotLate   = 25 * time.Second // after the budget (20 s) runs out
	slotFlip   = 4 * time.Second  // between the flip and the poll that sees it
	slotSettle = 5 * time.Second  // after the settling poll, before the exit read
)

// Catalogue is the fixed, ordered list of faults.
type Catalogue []Fault

// catalogue is built once, on first use (not in every run's start-up);
// its order is the enumeration order.
var catalogue = sync.OnceValue(buildCatalogue)

// NewCatalogue returns the catalogue.
func NewCatalogue() Catalogue { return slices.Clone(catalogue()) }

func buildCatalogue() Catalogue {
	var c Catalogue
	for _, part := range [][]Fault{opFaults(), lockFaults(), nixFaults(), offerFaults(), componentFaults(),
		binaryFaults(), commandFaults(), endFaults(), flipFaults(), profileFaults(), linkFaults(), killFaults(),
		journalFaults(), betweenFaults(), healthFaults()} {
		c = append(c, part...)
	}
	return c
}

func opFaults() []Fault {
	return []Fault{{Name: "op=rollback", Group: groupOp, Point: "the agent rolls new back to old instead of activating",
		ops: rollbackOnly, apply: func(s *Spec) { s.Op = OpRollback }}}
}

func lockFaults() []Fault {
	var out []Fault
	for _, st := range []sim.LockState{sim.LockShared, sim.LockExclusive, sim.LockStale, sim.LockFileMissing,
		sim.LockDirMissing, sim.LockProbeError} {
		out = append(out, Fault{Name: "lock=" + string(st), Group: "lock", Point: "the switch lock at the probe",
			ops: both, apply: func(s *Spec) { s.Lock = st }})
	}
	return out
}

// nixFaults: the Nix version (its signature texts) and the cache.
func nixFaults() []Fault {
	var out []Fault
	for _, v := range []string{"2.3", "2.13"} {
		out = append(out, Fault{Name: "nix=" + v, Group: "nix", Point: "the Nix version whose texts nix-store prints",
			ops: activateOnly, apply: func(s *Spec) { s.NixVersion = v }})
	}
	out = append(out, Fault{Name: "cache=unreachable", Group: "cache", Point: "the substituter at realise (4 retries, ~4.6 s)",
		ops: activateOnly, apply: func(s *Spec) { s.Unreachable = true }})
	out = append(out, Fault{Name: "realised-as=third", Group: "realised", Point: "the path nix-store --realise prints",
		ops: activateOnly, apply: func(s *Spec) { s.RealisesAs = aliasThird }})
	return out
}

func offerFaults() []Fault {
	offer := func(name string, o OfferSpec) Fault {
		return Fault{Name: "offer=" + name, Group: "offer", Point: "the cache's copy of new at realise",
			ops: activateOnly, apply: func(s *Spec) { s.Offer = o }}
	}
	return []Fault{
		offer("unsigned", OfferSpec{SignedBy: "unsigned"}),
		offer("rogue-key", OfferSpec{SignedBy: rogueKey}),
		offer("hash-mismatch", OfferSpec{Defect: sim.OfferHashMismatch}),
		offer("nar-missing", OfferSpec{Defect: sim.OfferNarMissing}),
		offer("garbage", OfferSpec{Defect: sim.OfferGarbage}),
		offer("none", OfferSpec{Absent: true}),
		offer("narinfo-http-401", OfferSpec{NarinfoHTTP: 401}),
		offer("nar-http-403", OfferSpec{NarHTTP: 403}),
		offer("nar-http-500", OfferSpec{NarHTTP: 500}),
	}
}

// componentFaults force the deferral to boot; boot faults need one.
func componentFaults() []Fault {
	out := []Fault{
		{Name: "components=kernel", Group: "components", Point: "new's kernel differs (deferral to boot)",
			ops: activateOnly, apply: func(s *Spec) { s.Kernel = "6.6.60" }},
		{Name: "components=dbus", Group: "components", Point: "new's dbus differs (deferral to boot)",
			ops: activateOnly, apply: func(s *Spec) { s.Dbus = "1.16.0" }},
	}
	boot := func(name string, b BootSpec) Fault {
		b.Set = true
		if b.Duration == 0 {
			b.Duration = sim.DefaultBoot().Duration
		}
		return Fault{Name: "boot=" + name, Group: "boot", Point: "how switch-to-configuration boot ends",
			ops: activateOnly, requires: "components", apply: func(s *Spec) { s.Boot = b }}
	}
	return append(out, boot("exit-1", BootSpec{Exit: 1}), boot("signal-9", BootSpec{Signal: 9}),
		boot("never-ends", BootSpec{Never: true}))
}

func binaryFaults() []Fault {
	return []Fault{
		{Name: "broken-binary", Group: "binary", Point: "the target's switch-to-configuration cannot execute (status 203)",
			ops: both, apply: func(s *Spec) { s.BrokenBinary = true }},
		{Name: "no-switch", Group: "binary", Point: "new is a package: no bin/switch-to-configuration",
			ops: activateOnly, apply: func(s *Spec) { s.NoSwitch = true }},
		{Name: "current=missing-at-start", Group: "current-start", Point: "/run/current-system before the run",
			ops: both, apply: func(s *Spec) { s.CurrentMissing = true }},
	}
}

// commandFaults make one command fail, at a time slot or always.
func commandFaults() []Fault {
	cf := func(name, group, point string, ops []Op, f CommandFault) Fault {
		return Fault{Name: name, Group: group, Point: point, ops: ops,
			apply: func(s *Spec) { s.Faults = append(s.Faults, f) }}
	}
	show := func(at time.Duration, times int) CommandFault {
		return CommandFault{At: at, Program: "systemctl", Words: []string{"show"}, Exit: 1, Stderr: busUnreachable, Times: times}
	}
	return []Fault{
		cf("realise=eof", "realise", "nix-store --realise", activateOnly,
			CommandFault{Program: "nix-store", Words: []string{"--realise"}, Exit: 1, Stderr: unexpectedEOF}),
		{Name: "realise=lacks-signature", Group: "realise", Point: "nix-store --realise, in the host Nix's words",
			ops: activateOnly, apply: lacksSignature},
		cf("set=fails", "set", "every nix-env --set", activateOnly,
			CommandFault{Program: "nix-env", Words: []string{"--set"}, Exit: 1, Stderr: profileLockDenied}),
		cf("set=fails-from-1s", "set", "nix-env --set after the first (the self-correction)", activateOnly,
			CommandFault{At: time.Second, Program: "nix-env", Words: []string{"--set"}, Exit: 1, Stderr: profileLockDenied}),
		cf("rollback=fails", "rollback", "the rollback's nix-env --switch-generation", rollbackOnly,
			CommandFault{Program: "nix-env", Words: []string{"--switch-generation"}, Exit: 1, Stderr: profileLockDenied, Times: 1}),
		cf("restore=fails", "restore", "a restore's nix-env --switch-generation", activateOnly,
			CommandFault{Program: "nix-env", Words: []string{"--switch-generation"}, Exit: 1, Stderr: profileLockDenied}),
		cf("show=fails", "show", "every systemctl show", both, show(0, 0)),
		cf("show=fails-once", "show", "the first systemctl show (the fire's status check)", both, show(0, 1)),
		cf("show=fails-once-at-4s", "show", "the first systemctl show from 4 s (the first unit read)", both, show(slotFlip, 1)),
		cf("show=fails-from-5s", "show", "every systemctl show from 5 s", both, show(slotSettle, 0)),
		cf("run=fails", "run", "systemd-run", both,
			CommandFault{Program: "systemd-run", Exit: 1, Stderr: busUnreachable}),
		{Name: "unit=collected-at-0", Group: "collected", Point: "the unit's status is lost from the start",
			ops: both, apply: func(s *Spec) { at := time.Duration(0); s.Collected = &at }},
		{Name: "unit=collected-at-5s", Group: "collected", Point: "the unit's status is lost at 5 s",
			ops: both, apply: func(s *Spec) { at := slotSettle; s.Collected = &at }},
	}
}

// lacksSignature fails realise with the host Nix version's "lacks a
// signature" text (Nix <= 2.11 and >= 2.12 differ).
func lacksSignature(s *Spec) {
	p, err := sim.NixPhrasing(orDefault(s.NixVersion, sim.DefaultNixVersion))
	if err != nil {
		panic(err) // the catalogue's versions all parse
	}
	s.Faults = append(s.Faults, CommandFault{Program: "nix-store", Words: []string{"--realise"}, Exit: 1,
		Stderr: p.LacksSignature(sim.StoreDir + "/" + newSys)})
}

// endFaults: how the target's switch-to-configuration ends, at time slots.
func endFaults() []Fault {
	end := func(name string, w SwitchSpec) Fault {
		return Fault{Name: "end=" + name, Group: "end", Point: "how the target's switch-to-configuration ends",
			ops: both, apply: func(s *Spec) {
				s.Switch.Set, s.Switch.EndSet = true, true
				s.Switch.Duration, s.Switch.Exit, s.Switch.Signal, s.Switch.CoreDump, s.Switch.Never =
					w.Duration, w.Exit, w.Signal, w.CoreDump, w.Never
			}}
	}
	out := []Fault{
		end("exit-0@1s", SwitchSpec{Duration: slotEarly}),
		end("exit-0@25s", SwitchSpec{Duration: slotLate}),
	}
	for _, code := range []int{1, 4, 100} {
		for _, at := range []time.Duration{slotEarly, slotMid, slotLate} {
			out = append(out, end(fmt.Sprintf("exit-%d@%s", code, at), SwitchSpec{Duration: at, Exit: code}))
		}
	}
	for _, sig := range []int{9, 15} {
		for _, at := range []time.Duration{slotEarly, slotMid} {
			out = append(out, end(fmt.Sprintf("signal-%d@%s", sig, at), SwitchSpec{Duration: at, Signal: sig}))
		}
	}
	return append(out, end("core-dump-6@8s", SwitchSpec{Duration: slotMid, Signal: 6, CoreDump: true}),
		end("never", SwitchSpec{Never: true}))
}

// flipFaults: how /run/current-system moves during the switch.
func flipFaults() []Fault {
	flip := func(name string, f func(w *SwitchSpec)) Fault {
		return Fault{Name: "flip=" + name, Group: "flip", Point: "/run/current-system during the switch",
			ops: both, apply: func(s *Spec) { s.Switch.Set = true; f(&s.Switch) }}
	}
	return []Fault{
		flip("never", func(w *SwitchSpec) { w.FlipNever = true }),
		flip("at-0s", func(w *SwitchSpec) { w.FlipAt = 0 }),
		flip("late-19s", func(w *SwitchSpec) {
			w.FlipAt = 19 * time.Second
			if !w.EndSet {
				w.Duration = 21 * time.Second // alive to flip, ending after the budget
			}
		}),
		flip("to-third", func(w *SwitchSpec) { w.FlipTo = aliasThird }),
		flip("absent-2s", func(w *SwitchSpec) { w.Absent = 2 * time.Second }),
		flip("absent-60s", func(w *SwitchSpec) { w.Absent = time.Minute }),
		flip("back-at-4s", func(w *SwitchSpec) { w.BackAt = slotFlip }),
	}
}

// profileFaults: the activation re-points the profile.
func profileFaults() []Fault {
	move := func(name string, to string, gen int) Fault {
		return Fault{Name: "profile=" + name, Group: "profile", Point: "the system profile during the switch",
			ops: both, apply: func(s *Spec) {
				s.Switch.Set = true
				s.Switch.ProfileMoveTo, s.Switch.ProfileGeneration, s.Switch.ProfileMoveAt = to, gen, slotFlip
			}}
	}
	return []Fault{move("third@4s", aliasThird, 0), move("old@4s", aliasOld, 0), move("generation-1@4s", "", 1)}
}

// linkFaults: someone else re-points /run/current-system.
func linkFaults() []Fault {
	link := func(name string, at time.Duration, target func(Spec) string) Fault {
		return Fault{Name: "link=" + name, Group: "link", Point: "/run/current-system, re-pointed by someone else",
			ops: both, apply: func(s *Spec) { s.Events = append(s.Events, LinkEvent{At: at, Target: target(*s)}) }}
	}
	fixed := func(alias string) func(Spec) string { return func(Spec) string { return alias } }
	previous := func(s Spec) string {
		if s.Op == OpRollback {
			return aliasNew
		}
		return aliasOld
	}
	return []Fault{
		link("third@4s", slotFlip, fixed(aliasThird)),
		link("missing@4s", slotFlip, fixed("missing")),
		link("previous@5s", slotSettle, previous),
	}
}

// killFaults: the agent dies before or after a command, or at a time.
func killFaults() []Fault {
	k := func(name string, ops []Op, requires string, spec KillSpec) Fault {
		return Fault{Name: "kill=" + name, Group: "kill", Point: "the agent is killed", ops: ops, requires: requires,
			apply: func(s *Spec) { s.Kill = spec }}
	}
	cmd := func(mode KillMode, nth int, program string, words ...string) KillSpec {
		return KillSpec{Mode: mode, Program: program, Words: words, Nth: nth}
	}
	out := []Fault{
		k("before-probe", both, "", cmd(KillBefore, 1, sim.LockProbeArgv0)),
		k("before-realise", activateOnly, "", cmd(KillBefore, 1, "nix-store", "--realise")),
		k("after-realise", activateOnly, "", cmd(KillAfter, 1, "nix-store", "--realise")),
		k("before-set", activateOnly, "", cmd(KillBefore, 1, "nix-env", "--set")),
		k("after-set", activateOnly, "", cmd(KillAfter, 1, "nix-env", "--set")),
		k("before-rollback", rollbackOnly, "", cmd(KillBefore, 1, "nix-env", "--switch-generation")),
		k("after-rollback", rollbackOnly, "", cmd(KillAfter, 1, "nix-env", "--switch-generation")),
		k("after-restore-profile", activateOnly, "", cmd(KillAfter, 1, "nix-env", "--switch-generation")),
		k("after-restore-fire", activateOnly, "", cmd(KillAfter, 2, "systemd-run")),
		k("before-fire-status", both, "", cmd(KillBefore, 1, "systemctl", "show")),
		k("before-fire", both, "", cmd(KillBefore, 1, "systemd-run")),
		k("after-fire", both, "", cmd(KillAfter, 1, "systemd-run")),
		k("before-unit-read", both, "", cmd(KillBefore, 2, "systemctl", "show")),
		k("before-self-correct", activateOnly, "profile", cmd(KillBefore, 2, "nix-env", "--set")),
	}
	for _, at := range []time.Duration{slotEarly, 3500 * time.Millisecond, slotSettle, 12 * time.Second} {
		out = append(out, k(fmt.Sprintf("at-%s", at), both, "", KillSpec{Mode: KillAt, At: at}))
	}
	return out
}

// journalFaults: the state directory fills up or turns read-only after
// the Nth record write (the baseline activation writes two: firing, before
// its profile set, and fired; a rollback three: rolled-back, firing, fired).
func journalFaults() []Fault {
	j := func(mode string, after int) Fault {
		name := "journal=" + mode
		if after > 0 {
			name += fmt.Sprintf("-after-%d", after)
		}
		return Fault{Name: name, Group: "journal", Point: fmt.Sprintf("the state directory after %d record write(s)", after),
			ops: both, apply: func(s *Spec) { s.Journal = JournalFault{Mode: mode, After: after} }}
	}
	return []Fault{j(JournalFull, 0), j(JournalFull, 1), j(JournalReadOnly, 0), j(JournalReadOnly, 1),
		j(JournalReadOnly, 2), j(JournalReadOnly, 3)}
}

// betweenFaults: the host reboots, or its wall clock steps, after the agent
// was killed and before the next invocation recovers.
func betweenFaults() []Fault {
	b := func(name string, spec BetweenSpec) Fault {
		return Fault{Name: "between=" + name, Group: "between", Point: "the host between the killed agent and the recovery",
			ops: both, requires: "kill", apply: func(s *Spec) { s.Between = spec }}
	}
	return []Fault{
		b("reboot", BetweenSpec{Reboot: true}),
		b("reboot-into-old", BetweenSpec{Reboot: true, RebootInto: aliasOld}),
		b("clock-back-1h", BetweenSpec{ClockStep: -time.Hour}),
	}
}
