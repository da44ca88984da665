package testscripts

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
)

// worldCommands set up the simulated host: its Nix settings, closures and
// how their switch-to-configuration behaves, the links, the lock, faults.
func worldCommands() []command {
	return []command{
		{name: "host", usage: "host [nix=2.8] [substituters=URL,...|none] [trusted=KEY,...|none] [costs=observed|none] [name=web1]",
			summary: "rebuilds the host before anything else touches it: the Nix version whose texts the tools print (2.3, 2.8, 2.13, ...), nix.conf's substituters and trusted-public-keys (key names, see `offer`), and whether commands take the durations REAL-TOOLS.md observed (default: Nix 2.8, " + defaultCache + ", key " + defaultKeyName + ", observed costs)",
			run:     runHost},
		{name: "closure", usage: "closure ALIAS [release=24.05] [kernel=V] [initrd=V] [modules=V] [systemd=V] [dbus=V] [valid] [realises-as=ALIAS] [broken-binary] [no-switch|switch-not-executable] [" + checkUsage + "]...",
			summary: "declares a system closure nixos-system-<host>-<release> with a deterministic hash and exports its basename as $ALIAS; component versions decide live switch or deferral; valid puts it in the local store; realises-as makes nix-store --realise print another path; broken-binary makes its switch-to-configuration fail to execute (status 203); no-switch leaves out bin/switch-to-configuration (a package, not a system), switch-not-executable writes it without an execute bit (mode 0444)" + checkSummary,
			run:     runClosure},
		{name: "offer", usage: "offer ALIAS URL [signed-by=KEY|unsigned] [defect=hash-mismatch|nar-missing|garbage] [narinfo-http=STATUS] [nar-http=STATUS]",
			summary: "puts a copy of the closure in the substituter URL, signed by the key named KEY (default " + defaultKeyName + ") or unsigned, optionally defective; an http(s) URL may answer the path's narinfo or NAR with an HTTP status (401, 403, 404, 500, ...), printed as Nix 2.8 does: 5xx retried four times then fatal, 401/403/404 read as \"not there\" (their status only in --debug lines)",
			run:     runOffer},
		{name: "switch", usage: "switch ALIAS [duration=5s] [exit=N] [signal=N] [core-dump] [never-ends] [flip=3s|never] [flip-to=ALIAS] [absent=D] [back-at=D] [profile-move=ALIAS@D] [profile-generation=N@D] [bootloader-fails] [failed=UNIT,...] [lingers=D]",
			summary: "sets how the closure's `switch-to-configuration switch` behaves, offsets from its start: when it flips /run/current-system (to itself or flip-to), whether the link is absent for a while or flips back, whether it re-points the profile, and how it ends (exit status, signal, or never); bootloader-fails: its bootloader step fails, leaving the boot default unchanged (pair with flip=never exit=1: the real one dies before activating); failed=UNIT,...: units the activation fails to start, listed by `systemctl list-units --state=failed` (systemd 252) from the process's end (pair with exit=4); lingers=D: the run, ending cleanly, leaves a process that ignores SIGTERM, so a later `systemctl stop` of the ended unit takes D (its TimeoutStopSec, below the agent's command timeout) and leaves it loaded and failed with Result=timeout (systemd 252)",
			run:     runSwitch},
		{name: "boot", usage: "boot ALIAS [duration=1s] [exit=N] [signal=N] [core-dump] [never-ends]",
			summary: "sets how the closure's `switch-to-configuration boot` (the deferred path) ends",
			run:     runBoot},
		{name: "agent", usage: "agent [--FLAG VALUE...] [substituters=URL,...] [trusted=KEY,...]",
			summary: "configures the agent for every later activate, rollback and recover of the script with the binary's own flags, so a suite tests the command line a fleet ships: --poll-interval, --poll-budget, --progress-interval, --switch-unit, --rollback-unit, --restore-unit, --on-failure, --on-unhealthy, --require-running, --confirm-within, --realise-timeout, --command-timeout, --wait-lock, --poll-only (polling only is the scenarios' default anyway; events=on turns the watch on per run), and --substituters / --trusted-public-keys (space-separated, quoted: passed as nix-store --realise's own `--option`; a key NAME:BASE64 is the simulator's key NAME, so a real key line works with `offer ... signed-by=NAME`); substituters=URL,... and trusted=KEY,... are the comma-separated short forms; each agent line replaces the previous configuration; activate's and rollback's own options (budget=, unit=, on-failure=, ...) override it for one run",
			run:     runAgent},
		{name: "running", usage: "running ALIAS",
			summary: "the host runs the closure: profile generation 1, /run/current-system and /run/booted-system point at it, and it is the boot default",
			run:     runRunning},
		{name: "profile", usage: "profile ALIAS...|N:ALIAS...",
			summary: "makes the closures the system profile's generations 1..n, the profile at the last; with N:ALIAS items, generation N holds the closure (gaps are deleted generations), the profile at the last item",
			run:     runProfile},
		{name: "current", usage: "current ALIAS|missing|PATH",
			summary: "points /run/current-system at the closure or at PATH, or removes it",
			effect:  linkEffect(sim.DefaultCurrentSystem)},
		{name: "booted", usage: "booted ALIAS|missing|PATH",
			summary: "points /run/booted-system at the closure or at PATH, or removes it",
			effect:  linkEffect(sim.DefaultBootedSystem)},
		{name: "lock", usage: lockUsage, summary: lockSummary, effect: lockEffect},
		{name: "fault", usage: "fault PROGRAM [WORDS...] [exit=1] [stderr=TEXT|stderr-file=FILE] [stdout=TEXT] [times=N] [duration=D|hang]",
			summary: "makes commands of PROGRAM whose arguments contain WORDS in order fail without effect, with the exit status and texts given (stderr-file: a multi-line text from a txtar section, its final newline dropped; times=N: only the next N; default all); duration=D makes each take D of virtual time before it answers, hang makes it answer never: it runs until the agent's own command timeout kills it (60 s); cite the tool version a text follows in the scenario's comment",
			effect:  faultEffect},
		{name: "unreachable", usage: "unreachable URL [http=STATUS]",
			summary: "makes a substituter unreachable: Nix 2.8 retries it four times (about 4.6 s) and goes on without it; with http=STATUS it is reached but answers its nix-cache-info with that status: 5xx retried the same way, 401/403/404 \"does not appear to be a binary cache\"",
			effect:  unreachableEffect},
		{name: "gc", usage: "gc",
			summary: "runs the garbage collector as `nix-store --gc` would: deletes every store path that no GC root (under /nix/var/nix/gcroots, the profile's generations, /run/current-system, /run/booted-system) keeps alive; schedule it with `at` to collect while the agent runs",
			effect:  gcEffect},
		{name: "unit-collected", usage: "unit-collected UNIT",
			summary: "the unit's status is lost, as after `systemd-run --collect` unloaded it (systemd 252): systemctl show answers LoadState=not-found with ExecMainStatus=0, stop and reset-failed answer `not loaded`; emulated with faults, so `unit` still shows the simulator's own state",
			effect:  unitCollectedEffect},
	}
}

func runHost(s *script, _ bool, args []string) error {
	p, err := argSpec{"nix=", "substituters=", "trusted=", "costs=", "name="}.parseN(args, 0, "no positional argument")
	if err != nil {
		return err
	}
	if s.w.touched {
		return fmt.Errorf("host must come before every other command that touches the host")
	}
	cfg := sim.HostConfig{NixVersion: p.opts["nix"], Substituters: p.list("substituters", []string{defaultCache})}
	for _, k := range p.list("trusted", []string{defaultKeyName}) {
		cfg.TrustedPublicKeys = append(cfg.TrustedPublicKeys, sim.Key(k))
	}
	switch p.opts["costs"] {
	case "", "observed":
		cfg.Costs = sim.ObservedCosts()
	case "none":
	default:
		return usagef("costs=%q: want observed or none", p.opts["costs"])
	}
	if n, ok := p.opts["name"]; ok {
		s.w.name = n
	}
	return s.w.build(cfg)
}

func runClosure(s *script, _ bool, args []string) error {
	args, checks, err := takeChecks(args) // issue 18: check= repeats
	if err != nil {
		return err
	}
	p, err := argSpec{"release=", "kernel=", "initrd=", "modules=", "systemd=", "dbus=", "valid", "realises-as=", "broken-binary",
		"no-switch", "switch-not-executable"}.parseN(args, 1, "ALIAS")
	if err != nil {
		return err
	}
	alias := p.pos[0]
	if !validAlias(alias) {
		return usagef("alias %q: want lowercase letters, digits and _ (it becomes $%s)", alias, alias)
	}
	if _, dup := s.w.closures[alias]; dup {
		return fmt.Errorf("closure %q is already declared", alias)
	}
	release := p.opts["release"]
	if release == "" {
		release = defaultRelease
	}
	spec := &sim.ClosureSpec{
		Basename: sim.FakeBasename("nixos-system-"+s.w.name+"-"+release, alias),
		Components: sim.Components{Kernel: p.opts["kernel"], Initrd: p.opts["initrd"], KernelModules: p.opts["modules"],
			Systemd: p.opts["systemd"], Dbus: p.opts["dbus"]},
		Valid: p.flags["valid"], BrokenBinary: p.flags["broken-binary"], Checks: checks,
	}
	switch {
	case p.flags["no-switch"] && p.flags["switch-not-executable"]:
		return fmt.Errorf("no-switch and switch-not-executable exclude each other")
	case p.flags["no-switch"]:
		spec.Program = sim.ProgramMissing
	case p.flags["switch-not-executable"]:
		spec.Program = sim.ProgramNotExecutable
	}
	if as, ok := p.opts["realises-as"]; ok {
		if spec.RealisesAs, err = s.w.basename(as); err != nil {
			return err
		}
	}
	if err := s.w.host().AddClosure(*spec); err != nil {
		return err
	}
	s.w.closures[alias] = spec
	s.ts.Setenv(alias, spec.Basename)
	return nil
}

func runOffer(s *script, _ bool, args []string) error {
	p, err := argSpec{"signed-by=", "defect=", "narinfo-http=", "nar-http="}.parseN(args, 2, "ALIAS URL")
	if err != nil {
		return err
	}
	spec, err := s.w.spec(p.pos[0])
	if err != nil {
		return err
	}
	offer := sim.Offer{URL: p.pos[1]}
	switch by := p.opts["signed-by"]; by {
	case "unsigned":
	case "":
		offer.SignedBy = sim.Key(defaultKeyName)
	default:
		offer.SignedBy = sim.Key(by)
	}
	switch d := sim.OfferDefect(p.opts["defect"]); d {
	case sim.OfferGood, sim.OfferHashMismatch, sim.OfferNarMissing, sim.OfferGarbage:
		offer.Defect = d
	default:
		return usagef("defect=%q: want hash-mismatch, nar-missing or garbage", d)
	}
	if offer.NarinfoStatus, err = httpStatus(p, "narinfo-http"); err != nil {
		return err
	}
	if offer.NarStatus, err = httpStatus(p, "nar-http"); err != nil {
		return err
	}
	spec.Offers = append(spec.Offers, offer)
	return s.w.commit(spec)
}

// endSpec is how a switch-to-configuration process ends.
var endSpec = argSpec{"duration=", "exit=", "signal=", "core-dump", "never-ends"}

// end reads the ending options shared by switch and boot.
type end struct {
	duration        time.Duration
	exit, signal    int
	coreDump, never bool
}

func (p parsed) end(defDuration time.Duration) (end, error) {
	var e end
	var err error
	if e.duration, err = p.duration("duration", defDuration); err != nil {
		return e, err
	}
	if e.exit, err = p.integer("exit", 0); err != nil {
		return e, err
	}
	if e.signal, err = p.integer("signal", 0); err != nil {
		return e, err
	}
	e.coreDump, e.never = p.flags["core-dump"], p.flags["never-ends"]
	return e, nil
}

func runSwitch(s *script, _ bool, args []string) error {
	spec := append(argSpec{"flip=", "flip-to=", "absent=", "back-at=", "profile-move=", "profile-generation=", "bootloader-fails", "failed=", "lingers="}, endSpec...)
	p, err := spec.parseN(args, 1, "ALIAS")
	if err != nil {
		return err
	}
	cs, err := s.w.spec(p.pos[0])
	if err != nil {
		return err
	}
	b, err := s.switchBehaviour(p)
	if err != nil {
		return err
	}
	cs.Switch = &b
	return s.w.commit(cs)
}

// switchBehaviour builds a SwitchBehaviour from sim.DefaultSwitch and the
// options.
func (s *script) switchBehaviour(p parsed) (sim.SwitchBehaviour, error) {
	b := sim.DefaultSwitch()
	e, err := p.end(b.Duration)
	if err != nil {
		return b, err
	}
	b.Duration, b.Exit, b.Signal, b.CoreDump, b.Never = e.duration, e.exit, e.signal, e.coreDump, e.never
	b.BootloaderFails = p.flags["bootloader-fails"]
	if b.Lingers, err = p.duration("lingers", 0); err != nil {
		return b, err
	}
	if b.Lingers > 0 && (b.Never || b.Exit != 0 || b.Signal != 0) {
		return b, fmt.Errorf("lingers= needs a clean end (exit 0, no signal, not never-ends): the simulator models only the stop of an ended active unit")
	}
	if raw, ok := p.opts["failed"]; ok {
		b.FailedUnits = strings.Split(raw, ",")
	}
	if err := s.flip(p, &b.Flip); err != nil {
		return b, err
	}
	if raw, ok := p.opts["profile-move"]; ok {
		alias, at, err := atOffset("profile-move", raw)
		if err != nil {
			return b, err
		}
		to, err := s.w.basename(alias)
		if err != nil {
			return b, err
		}
		b.ProfileMove = &sim.ProfileMove{At: at, To: to}
	}
	if raw, ok := p.opts["profile-generation"]; ok {
		n, at, err := atOffset("profile-generation", raw)
		var gen int
		if err == nil {
			_, err = fmt.Sscanf(n, "%d", &gen)
		}
		if err != nil || b.ProfileMove != nil {
			return b, usagef("profile-generation=%q: want N@DURATION, and not with profile-move", raw)
		}
		b.ProfileMove = &sim.ProfileMove{At: at, Generation: gen}
	}
	return b, nil
}

// flip reads flip=, flip-to=, absent= and back-at=.
func (s *script) flip(p parsed, f *sim.Flip) error {
	var err error
	if p.opts["flip"] == "never" {
		f.Never = true
	} else if f.At, err = p.duration("flip", f.At); err != nil {
		return err
	}
	if to, ok := p.opts["flip-to"]; ok {
		if f.To, err = s.w.basename(to); err != nil {
			return err
		}
	}
	if f.AbsentFor, err = p.duration("absent", 0); err != nil {
		return err
	}
	f.BackAt, err = p.duration("back-at", 0)
	return err
}

func runBoot(s *script, _ bool, args []string) error {
	p, err := endSpec.parseN(args, 1, "ALIAS")
	if err != nil {
		return err
	}
	cs, err := s.w.spec(p.pos[0])
	if err != nil {
		return err
	}
	e, err := p.end(sim.DefaultBoot().Duration)
	if err != nil {
		return err
	}
	cs.Boot = &sim.BootBehaviour{Duration: e.duration, Exit: e.exit, Signal: e.signal, CoreDump: e.coreDump, Never: e.never}
	return s.w.commit(cs)
}

func runAgent(s *script, _ bool, args []string) error {
	var words, flags []string
	for _, a := range args {
		if strings.HasPrefix(a, "substituters=") || strings.HasPrefix(a, "trusted=") {
			words = append(words, a)
		} else {
			flags = append(flags, a)
		}
	}
	p, err := argSpec{"substituters=", "trusted="}.parseN(words, 0, "no positional argument")
	if err != nil {
		return err
	}
	c, err := parseAgentFlags(flags)
	if err != nil {
		return err
	}
	if subs := p.list("substituters", nil); subs != nil {
		c.substituters = subs
	}
	if keys := p.list("trusted", nil); keys != nil {
		c.trustedKeys = simKeys(keys)
	}
	s.w.agent = c
	return nil
}

func runRunning(s *script, _ bool, args []string) error {
	if len(args) != 1 {
		return usagef("want ALIAS")
	}
	base, err := s.w.basename(args[0])
	if err != nil {
		return err
	}
	h := s.w.host()
	for _, step := range []func(string) error{func(b string) error { return h.InitProfile(b) }, h.SetCurrent, h.SetBooted, h.SetBootDefault} {
		if err := step(base); err != nil {
			return err
		}
	}
	return nil
}

func runProfile(s *script, _ bool, args []string) error {
	if len(args) == 0 {
		return usagef("want ALIAS... or N:ALIAS...")
	}
	if strings.Contains(args[0], ":") {
		return s.numberedProfile(args)
	}
	bases := make([]string, len(args))
	for i, a := range args {
		var err error
		if bases[i], err = s.w.basename(a); err != nil {
			return err
		}
	}
	return s.w.host().InitProfile(bases...)
}

// numberedProfile makes each N:ALIAS generation N, the profile at the last.
func (s *script) numberedProfile(args []string) error {
	for _, a := range args {
		num, alias, ok := strings.Cut(a, ":")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n < 1 {
			return usagef("%q: want N:ALIAS with N from 1", a)
		}
		base, err := s.w.basename(alias)
		if err != nil {
			return err
		}
		if err := s.w.host().SetGeneration(n, base); err != nil {
			return err
		}
	}
	return nil
}

// linkEffect re-points or removes one of the /run links.
func linkEffect(link string) func(*script, []string) (func() error, error) {
	return func(s *script, args []string) (func() error, error) {
		if len(args) != 1 {
			return nil, usagef("want ALIAS, missing or an absolute PATH")
		}
		h, target := s.w.host(), args[0]
		switch {
		case target == "missing":
			return func() error { return h.FS().RemoveAll(link) }, nil
		case strings.HasPrefix(target, "/"):
			return func() error { return h.FS().ReplaceLink(target, link) }, nil
		}
		base, err := s.w.basename(target)
		if err != nil {
			return nil, err
		}
		if link == sim.DefaultCurrentSystem {
			return func() error { return h.SetCurrent(base) }, nil
		}
		return func() error { return h.SetBooted(base) }, nil
	}
}

// lockStates are the states `lock` accepts, as the simulator names them.
var lockStates = []sim.LockState{sim.LockFree, sim.LockShared, sim.LockExclusive, sim.LockStale,
	sim.LockFileMissing, sim.LockDirMissing, sim.LockProbeError}

func lockEffect(s *script, args []string) (func() error, error) {
	if len(args) > 0 && strings.HasPrefix(args[0], "held-by=") {
		return holderEffect(s, args) // issue 19
	}
	if len(args) != 1 || !slices.Contains(lockStates, sim.LockState(args[0])) {
		return nil, usagef("want one of %v", lockStates)
	}
	h, state := s.w.host(), sim.LockState(args[0])
	return func() error { return h.SetLock(state) }, nil
}

func faultEffect(s *script, args []string) (func() error, error) {
	p, err := argSpec{"exit=", "stderr=", "stderr-file=", "stdout=", "times=", "duration=", "hang"}.parse(args)
	if err != nil {
		return nil, err
	}
	if len(p.pos) == 0 {
		return nil, usagef("want PROGRAM [WORDS...]")
	}
	f := sim.Fault{Match: sim.Cmd(p.pos[0], p.pos[1:]...), Stdout: p.opts["stdout"], Stderr: p.opts["stderr"]}
	if file, ok := p.opts["stderr-file"]; ok {
		if _, both := p.opts["stderr"]; both {
			return nil, fmt.Errorf("stderr= and stderr-file= exclude each other")
		}
		f.Stderr = strings.TrimSuffix(s.ts.ReadFile(file), "\n")
	}
	if f.Exit, err = p.integer("exit", 1); err != nil {
		return nil, err
	}
	if f.Times, err = p.integer("times", 0); err != nil {
		return nil, err
	}
	if f.Duration, err = p.duration("duration", 0); err != nil {
		return nil, err
	}
	f.Hang = p.flags["hang"]
	h := s.w.host()
	return func() error { h.AddFault(f); return nil }, nil
}

func unreachableEffect(s *script, args []string) (func() error, error) {
	p, err := argSpec{"http="}.parseN(args, 1, "URL")
	if err != nil {
		return nil, err
	}
	status, err := httpStatus(p, "http")
	if err != nil {
		return nil, err
	}
	h, url := s.w.host(), p.pos[0]
	if status != 0 {
		return func() error { h.SetCacheStatus(url, status); return nil }, nil
	}
	return func() error { h.SetUnreachable(url, true); return nil }, nil
}

// httpStatus reads an HTTP error status option (0 when absent).
func httpStatus(p parsed, key string) (int, error) {
	if _, ok := p.opts[key]; !ok {
		return 0, nil
	}
	n, err := p.integer(key, 0)
	if err != nil || n < 400 || n > 599 {
		return 0, usagef("%s=%q: want an HTTP error status 400..599", key, p.opts[key])
	}
	return n, nil
}

func gcEffect(s *script, args []string) (func() error, error) {
	if len(args) != 0 {
		return nil, usagef("takes no arguments")
	}
	h := s.w.host()
	return func() error { h.CollectGarbage(); return nil }, nil
}

// notFoundShow is systemd 252's answer to `systemctl show --property=
// LoadState,ActiveState,SubState,Result,ExecMainCode,ExecMainStatus,
// ExecMainPID` for a unit it does not have loaded (REAL-TOOLS.md: a
// collected unit reads LoadState=not-found, Result=success and
// ExecMainStatus=0), in systemd's own property order.
const notFoundShow = "Result=success\nExecMainPID=0\nExecMainCode=0\nExecMainStatus=0\nLoadState=not-found\nActiveState=inactive\nSubState=dead"

// GOTCHA: the simulator has no call that unloads a unit as --collect does,
// so its loss is emulated at the process boundary with faults carrying
// systemd 252's own answers for a unit that is not loaded.
func unitCollectedEffect(s *script, args []string) (func() error, error) {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		return nil, usagef("want UNIT")
	}
	name := args[0]
	if !strings.HasSuffix(name, ".service") {
		name += ".service"
	}
	h := s.w.host()
	return func() error {
		h.AddFault(sim.Fault{Match: sim.Cmd("systemctl", "show", name), Exit: 0, Stdout: notFoundShow})
		h.AddFault(sim.Fault{Match: sim.Cmd("systemctl", "stop", name), Exit: 5,
			Stderr: fmt.Sprintf("Failed to stop %[1]s: Unit %[1]s not loaded.", name)})
		h.AddFault(sim.Fault{Match: sim.Cmd("systemctl", "reset-failed", name), Exit: 1,
			Stderr: fmt.Sprintf("Failed to reset failed state of unit %[1]s: Unit %[1]s not loaded.", name)})
		return nil
	}, nil
}
