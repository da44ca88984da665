package explore

import (
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// Op is what the agent is asked to do.
type Op string

const (
	// OpActivate activates the closure "new" on a host running "old".
	OpActivate Op = "activate"
	// OpRollback rolls a host running "new" (generations old, new) back to
	// "old".
	OpRollback Op = "rollback"
)

// The world every run starts from, named as the testscripts language names
// it (its defaults: host web1, release 24.05, substituter file:///srv/cache
// trusting the key "cache", the command costs REAL-TOOLS.md observed).
const (
	hostName = "web1"
	release  = "24.05"
	cacheURL = "file:///srv/cache"
	// httpCacheURL serves new when an offer fault answers with an HTTP
	// status; the host then lists it after cacheURL.
	httpCacheURL = "https://cache.example"
	cacheKey     = "cache"
	rogueKey     = "rogue"
)

// Closure aliases: old runs, new is the target, third is a bystander that
// the faults point links at.
const (
	aliasOld   = "old"
	aliasNew   = "new"
	aliasThird = "third"
)

// basenameOf returns the store basename the scenario language gives an
// alias: sim.FakeBasename("nixos-system-<host>-<release>", alias).
func basenameOf(alias string) string {
	switch alias { // the three closures' are made once (a hash each)
	case aliasOld:
		return oldSys
	case aliasNew:
		return newSys
	case aliasThird:
		return thirdSys
	}
	return fakeBasenameOf(alias)
}

func fakeBasenameOf(alias string) string {
	return sim.FakeBasename("nixos-system-"+hostName+"-"+release, alias)
}

// Basenames of the three closures.
var (
	oldSys   = fakeBasenameOf(aliasOld)
	newSys   = fakeBasenameOf(aliasNew)
	thirdSys = fakeBasenameOf(aliasThird)
)

// Poll options of every run: a 20 s budget (not the production 300 s) keeps
// a timed-out run at 10 polls; the time slots of the catalogue are chosen
// against it.
const (
	PollInterval = 2 * time.Second
	PollBudget   = 20 * time.Second
)

// options are the pipeline options of every run.
func options() pipeline.Options {
	return pipeline.Options{PollInterval: PollInterval, PollBudget: PollBudget}
}

// Spec is one run's world. The zero value (with Op set) is the baseline:
// the switch flips current-system at 3 s and exits 0 at 5 s, nothing fails.
type Spec struct {
	Op Op
	// NixVersion is the Nix whose texts the tools print ("" = 2.8).
	NixVersion string
	// Lock is the switch lock's state ("" = free).
	Lock sim.LockState
	// Offer is the cache's copy of new.
	Offer OfferSpec
	// Unreachable makes the only substituter unreachable.
	Unreachable bool
	// RealisesAs makes nix-store --realise of new print this alias's path.
	RealisesAs string
	// Kernel and Dbus, when set, are new's component versions (a change
	// forces the deferral to boot).
	Kernel, Dbus string
	// BrokenBinary makes the target's switch-to-configuration unexecutable.
	BrokenBinary bool
	// NoSwitch makes new a package: no bin/switch-to-configuration.
	NoSwitch bool
	// CurrentMissing removes /run/current-system before the run.
	CurrentMissing bool
	// Switch is how the target's switch-to-configuration switch behaves.
	Switch SwitchSpec
	// Boot is how new's switch-to-configuration boot behaves.
	Boot BootSpec
	// Faults make commands fail.
	Faults []CommandFault
	// Events change /run/current-system at chosen times.
	Events []LinkEvent
	// Collected loses the agent unit's status at a time (nil: never).
	Collected *time.Duration
	// Kill stops the agent (zero: never).
	Kill KillSpec
	// Journal makes the agent's in-flight record writes fail.
	Journal JournalFault
	// Between happens to the host after the agent, before the recovery.
	Between BetweenSpec
	// Health is new's health check and the confirmation (issue 18).
	Health HealthSpec
}

// BetweenSpec is what happens to the host between the agent's run and the
// next invocation: a reboot (into a chosen closure, or the boot default)
// and a wall clock step. The zero value: nothing.
type BetweenSpec struct {
	Reboot bool
	// RebootInto is the alias booted ("" = sim.Host.Reboot's own choice).
	RebootInto string
	// ClockStep steps the wall clock (clock.Virtual.StepWall).
	ClockStep time.Duration
}

// OfferSpec is the cache's copy of new.
type OfferSpec struct {
	// Absent: no substituter has new.
	Absent bool
	// SignedBy names the signing key: "" is the trusted key, "unsigned"
	// none, any other name an untrusted key.
	SignedBy string
	Defect   sim.OfferDefect
	// NarinfoHTTP and NarHTTP, when non-zero, make httpCacheURL hold the
	// copy and answer its narinfo or NAR with that HTTP status.
	NarinfoHTTP, NarHTTP int
}

// http reports an offer served over HTTP (from httpCacheURL).
func (o OfferSpec) http() bool { return o.NarinfoHTTP != 0 || o.NarHTTP != 0 }

// SwitchSpec mirrors the options of the scenario language's `switch`
// command; the zero value is sim.DefaultSwitch.
type SwitchSpec struct {
	// Set marks a non-default behaviour (the `switch` line is printed).
	Set bool
	// EndSet marks a chosen end (exit, signal or never), which a late flip
	// must not extend.
	EndSet   bool
	Duration time.Duration
	Exit     int
	Signal   int
	CoreDump bool
	Never    bool
	// FlipAt is when the link flips; FlipNever: it does not.
	FlipAt    time.Duration
	FlipNever bool
	// FlipTo is the alias flipped to ("" = the closure itself).
	FlipTo string
	// Absent and BackAt are the `absent=` and `back-at=` offsets.
	Absent, BackAt time.Duration
	// ProfileMoveTo and ProfileMoveAt re-point the profile at an alias;
	// ProfileGeneration (> 0) switches it to a generation instead.
	ProfileMoveTo     string
	ProfileGeneration int
	ProfileMoveAt     time.Duration
}

// defaultSwitch is sim.DefaultSwitch as a SwitchSpec.
func defaultSwitch() SwitchSpec {
	d := sim.DefaultSwitch()
	return SwitchSpec{Duration: d.Duration, FlipAt: d.Flip.At}
}

// BootSpec mirrors the scenario language's `boot` command.
type BootSpec struct {
	Set      bool
	Duration time.Duration
	Exit     int
	Signal   int
	Never    bool
}

// CommandFault makes commands of Program whose arguments contain Words fail
// without effect (the scenario language's `fault`), from At on.
type CommandFault struct {
	At      time.Duration
	Program string
	Words   []string
	Exit    int
	Stderr  string
	// Times is how many matching commands fail (0: all).
	Times int
}

// LinkEvent re-points /run/current-system at an alias, or removes it
// (Target "missing"), at At.
type LinkEvent struct {
	At     time.Duration
	Target string
}

// KillMode is how the agent is killed: sim.Agent's modes, whose doc says
// what a kill means.
type KillMode = sim.KillMode

// Kill modes (sim.KillMode).
const (
	KillNever  = sim.KillNever
	KillBefore = sim.KillBefore
	KillAfter  = sim.KillAfter
	KillAt     = sim.KillAt
)

// KillSpec stops the agent (sim.Agent): before or after the Nth command
// matched by Program and Words (sim.Cmd), or at a virtual time from the
// agent's start.
type KillSpec struct {
	Mode    KillMode
	Program string
	Words   []string
	// Nth counts matching commands from 1 (0 means 1).
	Nth int
	At  time.Duration
}

// JournalFault makes the state directory fail for the agent, as the
// scenario language's `journal full|read-only [after=N]` does: once After
// record writes have succeeded, every write fails (ENOSPC when full, EROFS
// when read-only) and, read-only, so does clearing the record (removing
// works on a full disk). The next invocation finds it writable again.
type JournalFault struct {
	// Mode is "" (no fault), JournalFull or JournalReadOnly.
	Mode  string
	After int
}

// Journal fault modes, named as the scenario language names them.
const (
	JournalFull     = "full"
	JournalReadOnly = "read-only"
)

// newSpec returns the baseline world for op.
func newSpec(op Op) Spec {
	return Spec{Op: op, Switch: defaultSwitch(), Boot: BootSpec{Duration: sim.DefaultBoot().Duration}}
}

// target is the closure the run switches to.
func (s Spec) target() string {
	if s.Op == OpRollback {
		return aliasOld
	}
	return aliasNew
}

// unit is the transient unit the run fires.
func (s Spec) unit() string {
	if s.Op == OpRollback {
		return pipeline.DefaultRollbackUnit
	}
	return pipeline.DefaultSwitchUnit
}

// usesThird reports whether the bystander closure must be declared.
func (s Spec) usesThird() bool {
	if s.RealisesAs == aliasThird || s.Switch.FlipTo == aliasThird || s.Switch.ProfileMoveTo == aliasThird {
		return true
	}
	for _, e := range s.Events {
		if e.Target == aliasThird {
			return true
		}
	}
	return false
}
