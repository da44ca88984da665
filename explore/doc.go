// Package explore runs the activation pipeline against every combination of
// faults the simulated host can inject, checks named invariants after every
// run, and shrinks a violation to the smallest fault set, printed as a
// ready-to-commit scenario of the testscripts language.
//
// The model:
//
//   - A Spec is one run's world, declared the way a scenario declares it:
//     the closures old (running), new (offered in the signed cache) and
//     third (a bystander), the lock, the substituter, how the target's
//     switch-to-configuration behaves in virtual time, command faults,
//     scheduled link changes, a kill of the agent, journal faults, and what
//     happens to the host between a killed agent and the recovery (a reboot,
//     a wall clock step). A Spec
//     builds a fresh sim.Host and renders itself as scenario lines from one
//     list of steps, so the two cannot drift.
//   - A Fault is one named change to the baseline Spec, in a group: a
//     combination holds at most one fault of a group (one lock state, one
//     way the switch ends, one kill). The Catalogue lists them in a fixed
//     order; a combination is a sorted set of catalogue indices.
//   - A run wires the pipeline through the real backend over the host
//     (backends/sim/e2e_test.go), runs Activate or Rollback, then always
//     starts a fresh invocation that calls pipeline.Recover, as the binary
//     does. A kill is modelled as pipeline/recover_test.go does: the agent's
//     context is cancelled and its journal writes stop; the host goes on.
//   - Invariants look at the outcomes and at the host (command log, unit
//     runs, links, profile) and report violations by name.
//
// Exhaustive mode enumerates every valid combination of up to k faults in a
// fixed order (sizes ascending, then indices lexicographically), so a run's
// index identifies it at any depth >= its size. Random mode draws larger
// combinations from a seeded generator; each run's own seed replays it.
//
// Everything is deterministic: a run depends only on its fault set.
//
// Entry points: `nixfleet-activate explore [--depth k] [--seed s --runs n]`
// (cmd/nixfleet-activate/explore.go; `explore -h`), `make explore` (depth
// 3), TestExhaustiveDepth2 (CI), FuzzFaultCombinations (`go test -fuzz`),
// and BenchmarkActivations (`go test -bench . -cpu 1 ./explore`).
//
// Violations the real pipeline has today are listed in Known (the one list of
// known issues), each with the cause in pipeline/, its minimal repro and the
// scenario that pins it; an entry explains a violation by the run's fault
// set and invariant, never by the violation's text. The tests fail on
// anything else, and on a Known entry that no longer reproduces (remove it
// once fixed).
package explore
