package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// simCache is the simulated host's signed binary cache.
const simCache = "file:///srv/nix-cache"

// Closures of the embedded simulated host "web1": it runs simOld
// (generation 1); simNew is in the signed cache.
var (
	simOld = sim.FakeBasename("nixos-system-web1-24.05", "old")
	simNew = sim.FakeBasename("nixos-system-web1-24.11", "new")
)

// simScenario sets up the embedded host for one --sim name.
type simScenario struct {
	about string
	setup func(h *sim.Host, newSpec *sim.ClosureSpec)
	// upgraded: the host runs the new closure as generation 2.
	upgraded bool
	// earlierStopped: an earlier activation was stopped right after its
	// fire (runEarlierStopped), before the binary's own command.
	earlierStopped bool
}

// simScenarios are the --sim names: what a newcomer can watch.
var simScenarios = map[string]simScenario{
	"happy": {about: "the switch flips current-system at 3 s and exits 0 at 5 s"},
	"untrusted": {about: "the cache's copy is signed by a key the host does not trust", setup: func(_ *sim.Host, s *sim.ClosureSpec) {
		s.Offers = []sim.Offer{{URL: simCache, SignedBy: sim.Key("rogue")}}
	}},
	"not-in-cache": {about: "no substituter has the closure", setup: func(_ *sim.Host, s *sim.ClosureSpec) { s.Offers = nil }},
	"units-failed": {about: "the switch flips the link, then exits 4 (some units failed)", setup: func(_ *sim.Host, s *sim.ClosureSpec) {
		s.Switch = &sim.SwitchBehaviour{Duration: 8 * time.Second, Exit: 4, Flip: sim.Flip{At: 3 * time.Second},
			FailedUnits: []string{"nginx.service"}}
	}},
	"never-flips": {about: "the switch exits 1 at 20 s without flipping: switch-failed, profile and boot default restored", setup: func(_ *sim.Host, s *sim.ClosureSpec) {
		s.Switch = &sim.SwitchBehaviour{Duration: 20 * time.Second, Exit: 1, Flip: sim.Flip{Never: true}}
	}},
	"third-closure": {about: "the link flips to a closure nobody asked for", setup: func(_ *sim.Host, s *sim.ClosureSpec) {
		s.Switch = &sim.SwitchBehaviour{Duration: 8 * time.Second, Flip: sim.Flip{At: 3 * time.Second,
			To: sim.FakeBasename("nixos-system-web1-24.11", "intruder")}}
	}},
	"new-kernel": {about: "the kernel changes: switch-to-configuration boot, reboot pending", setup: func(_ *sim.Host, s *sim.ClosureSpec) {
		s.Components = sim.Components{Kernel: "6.6.60"}
	}},
	"not-a-system": {about: "the closure is a package: no bin/switch-to-configuration", setup: func(_ *sim.Host, s *sim.ClosureSpec) {
		s.Program = sim.ProgramMissing
	}},
	"killed-mid-switch": {about: "an earlier agent was stopped right after firing its switch: try recover", earlierStopped: true},
	"unhealthy": {about: "the new closure ships a health check that exits 1: rolled back to the old closure", setup: func(_ *sim.Host, s *sim.ClosureSpec) {
		s.Checks = []sim.Check{{Name: "web", At: time.Second, Exit: 1, Timeout: 10 * time.Second, Output: "connection refused"}}
	}},
	"after-upgrade": {about: "the host already runs the new closure (generation 2): try rollback", upgraded: true},
	"lock-held": {about: "another switch-to-configuration holds the lock", setup: func(h *sim.Host, _ *sim.ClosureSpec) {
		must(h.SetLock(sim.LockExclusive))
	}},
	"lock-inherited": {about: "a service inherited the lock's descriptor from a switch that exited 3 h ago", setup: func(h *sim.Host, _ *sim.ClosureSpec) {
		must(h.HoldLock(sim.LockHolder{Kind: sim.HolderInherited, Unit: "foo-daemon.service", Since: 3 * time.Hour}))
	}},
	"lock-zombie": {about: "a zombie switch-to-configuration; its parent keeps the lock", setup: func(h *sim.Host, _ *sim.ClosureSpec) {
		must(h.HoldLock(sim.LockHolder{Kind: sim.HolderZombie, Parent: "deployer", Since: 48 * time.Hour}))
	}},
	"own-unit-hung": {about: "our own switch unit hangs in switch-to-configuration since 5 h: try unblock", setup: func(h *sim.Host, _ *sim.ClosureSpec) {
		must(h.HoldLock(sim.LockHolder{Kind: sim.HolderOwnUnit, Since: 5 * time.Hour}))
	}},
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// simNames lists the scenario names, sorted.
func simNames() []string {
	names := make([]string, 0, len(simScenarios))
	for n := range simScenarios {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// listSims prints the scenarios.
func listSims(w io.Writer) {
	width := 0
	for _, n := range simNames() {
		width = max(width, len(n))
	}
	for _, n := range simNames() {
		fmt.Fprintf(w, "%-*s  %s\n", width, n, simScenarios[n].about)
	}
}

// newSimHost builds the embedded host for a scenario.
func newSimHost(name string) (*sim.Host, error) {
	sc, ok := simScenarios[name]
	if !ok {
		return nil, fmt.Errorf("--sim: unknown scenario %q (%s)", name, strings.Join(simNames(), ", "))
	}
	h, err := sim.NewHost(sim.HostConfig{Substituters: []string{simCache},
		TrustedPublicKeys: []string{sim.Key("fleet-cache")}, Costs: sim.ObservedCosts()})
	if err != nil {
		return nil, err
	}
	newSpec := sim.ClosureSpec{Basename: simNew, Valid: sc.upgraded, Offers: []sim.Offer{{URL: simCache, SignedBy: sim.Key("fleet-cache")}}}
	if sc.setup != nil {
		sc.setup(h, &newSpec)
	}
	if err := h.AddClosure(sim.ClosureSpec{Basename: simOld, Valid: true}); err != nil {
		return nil, err
	}
	if err := h.AddClosure(newSpec); err != nil {
		return nil, err
	}
	running, generations := simOld, []string{simOld}
	if sc.upgraded {
		running, generations = simNew, []string{simOld, simNew}
	}
	if err := h.InitProfile(generations...); err != nil {
		return nil, err
	}
	for _, point := range []func(string) error{h.SetCurrent, h.SetBooted} {
		if err := point(running); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// newSimEnvironment runs the real backend over the embedded host's
// emulated tools, so the demo exercises the same command lines and parsers
// as production.
func newSimEnvironment(cfg config, stderr io.Writer) (*environment, error) {
	h, err := newSimHost(cfg.sim)
	if err != nil {
		return nil, err
	}
	return simEnvironmentOn(h, cfg, stderr), nil
}

// simEnvironmentOn is the environment of a simulated host h (the --sim
// scenario cfg.sim, or a test's own host).
func simEnvironmentOn(h *sim.Host, cfg config, stderr io.Writer) *environment {
	if cfg.command == "activate" && cfg.closure == "" {
		cfg.closure = simNew
	}
	env := &environment{cfg: cfg, stderr: stderr}
	env.log = newLogger(cfg, stderr, h.Clock())
	env.backend = real.New(real.Config{Runner: h, Locker: h.Locker(), LockDiag: h.LockDiag(), Logger: env.log})
	env.journal = pipeline.FileJournal{FS: h.FS(), Dir: cfg.stateDir, Now: h.Clock().Now}
	env.deps = pipeline.Deps{Nix: env.backend, Backend: env.backend, FS: h.FS(), Clock: h.Clock(), Log: env.log,
		Journal: env.journal, AgentLock: h.AgentLock(cfg.agentLock),
		LastActivation: pipeline.FileLastActivation{FS: h.FS(), Dir: cfg.stateDir},
		Confirm:        pipeline.FileConfirm{FS: h.FS(), Dir: cfg.stateDir}}
	if !cfg.pollOnly {
		env.deps.Events = h.Events()
	}
	if simScenarios[cfg.sim].earlierStopped && (cfg.command == "recover" || cfg.command == "activate" || cfg.command == "status") {
		runEarlierStopped(h, env)
	}
	env.simSummary = func(w io.Writer) {
		fmt.Fprintf(w, "\nsimulated host %q after the run (virtual time):\n", cfg.sim)
		for _, e := range h.Log() {
			fmt.Fprintf(w, "  %s\n", e)
		}
		for _, line := range strings.Split(strings.TrimSpace(h.Summary()), "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
	return env
}
