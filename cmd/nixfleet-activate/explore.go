package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/explore"
)

// exploreUsage heads `explore -h`.
const exploreUsage = `usage: nixfleet-activate explore [--depth K] [--seed S --runs N [--max-faults M]] [flags]

Runs the activation pipeline on the embedded simulated host against fault
combinations and checks every invariant after each run (package explore).
Without --seed/--runs: every combination of up to K faults (exhaustive; a
run's index identifies it). With them: N random combinations of up to M
faults, run i drawn from seed S+i (so --seed S+i --runs 1 replays it).

Each violation is shrunk to its smallest fault set and printed as a
ready-to-commit scenario for testscripts/testdata. Exit codes: 0 when every
violation is a known pipeline issue (explore.Known; --strict: when there is
none), 1 when a run broke an invariant nothing explains, 2 usage, 11
interrupted.

Flags:
`

// exploreConfig is what the explore command line says.
type exploreConfig struct {
	depth, runs, maxFaults, workers, repros, show int
	seed                                          uint64
	random, strict                                bool
	out                                           string
}

// parseExploreArgs parses explore's flags; -h prints the help to helpOut
// and returns flag.ErrHelp.
func parseExploreArgs(args []string, helpOut io.Writer) (exploreConfig, error) {
	var c exploreConfig
	fs := flag.NewFlagSet("nixfleet-activate explore", flag.ContinueOnError)
	// GOTCHA: the flag package prints the whole usage on every parse error;
	// runExplore prints one short error and a hint instead.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.IntVar(&c.depth, "depth", 2, "exhaustive mode: combinations of up to K faults (1-3 are practical)")
	fs.Uint64Var(&c.seed, "seed", 0, "random mode: first seed (default: from the wall clock, printed)")
	fs.IntVar(&c.runs, "runs", 1000, "random mode: number of runs")
	fs.IntVar(&c.maxFaults, "max-faults", 6, "random mode: faults per run, at most")
	fs.IntVar(&c.workers, "workers", 0, "runs in parallel (0: one per CPU)")
	fs.IntVar(&c.repros, "repros", 3, "minimal scenarios printed per invariant")
	fs.IntVar(&c.show, "show", -1, "print the scenario, outcome and command log of exhaustive run N and exit")
	fs.BoolVar(&c.strict, "strict", false, "exit 1 on known pipeline issues too")
	fs.StringVar(&c.out, "out", "", "also write each minimal scenario to DIR/<name>.txtar")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(helpOut, exploreUsage)
			printFlagDefaults(helpOut, fs)
		}
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("explore takes no arguments, got %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) { c.random = c.random || f.Name == "seed" || f.Name == "runs" })
	if c.random && !isSet(fs, "seed") {
		c.seed = uint64(time.Now().UnixNano())
	}
	if c.depth < 0 || c.runs < 1 || c.maxFaults < 1 || c.repros < 0 {
		return c, errors.New("--runs and --max-faults must be >= 1, --depth and --repros >= 0")
	}
	return c, nil
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// runExplore is the explore subcommand.
func runExplore(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseExploreArgs(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return ExitSuccess
	}
	if err != nil {
		fmt.Fprintf(stderr, "nixfleet-activate explore: %v\nsee: nixfleet-activate explore -h\n", err)
		return ExitUsage
	}
	e := explore.New(explore.Config{Workers: c.workers})
	if c.show >= 0 {
		return showRun(e, c, stdout, stderr)
	}
	fmt.Fprintf(stdout, "catalogue: %d faults; invariants: %d\n", len(e.Catalogue()), len(explore.Invariants()))
	var rep explore.Report
	if c.random {
		fmt.Fprintf(stdout, "random: seed %d, %d runs of up to %d faults\n", c.seed, c.runs, c.maxFaults)
		rep = e.Random(ctx, c.seed, c.runs, c.maxFaults)
	} else {
		fmt.Fprintf(stdout, "exhaustive: depth %d, %s\n", c.depth, bySize(e.Catalogue().Count(c.depth), "combination"))
		rep = e.Exhaustive(ctx, c.depth)
	}
	unexplained, err := printReport(e, rep, c, stdout)
	printSummary(stdout, rep, unexplained)
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "nixfleet-activate explore: %v\n", err)
		return ExitInternal
	case rep.Interrupted:
		return ExitInterrupted
	case unexplained || (c.strict && !rep.OK()):
		return ExitInternal
	}
	return ExitSuccess
}

// printSummary ends the report with one line a reader can act on.
func printSummary(w io.Writer, rep explore.Report, unexplained bool) {
	switch {
	case rep.OK():
		fmt.Fprintf(w, "\nsummary: %d runs, every invariant held\n", rep.Runs)
	case unexplained:
		fmt.Fprintf(w, "\nsummary: %d runs, UNEXPLAINED violations above: a new pipeline bug (exit 1)\n", rep.Runs)
	default:
		fmt.Fprintf(w, "\nsummary: %d runs, %d invariants broken, every violation explained by the %d known issues (explore.Known)\n",
			rep.Runs, len(rep.Violating), len(explore.Known))
	}
}

// printReport prints the totals and each invariant's minimal repros, and
// reports whether a violation is unexplained.
func printReport(e *explore.Explorer, rep explore.Report, c exploreConfig, w io.Writer) (bool, error) {
	fmt.Fprintf(w, "%d runs (%s) in %s", rep.Runs, bySize(rep.PerSize, "run"), rep.Elapsed.Round(time.Millisecond))
	if rep.Interrupted {
		fmt.Fprint(w, " (interrupted)")
	}
	fmt.Fprintln(w)
	if rep.OK() {
		fmt.Fprintln(w, "no invariant broken")
		return false, nil
	}
	names := make([]string, 0, len(rep.Violating))
	for name := range rep.Violating {
		names = append(names, name)
	}
	slices.Sort(names)
	unexplained := false
	for _, name := range names {
		fmt.Fprintf(w, "\n== %s: %d violating runs\n", name, rep.Violating[name])
		u, err := printRepros(e, rep, name, c, w)
		if err != nil {
			return unexplained, err
		}
		unexplained = unexplained || u
	}
	return unexplained, nil
}

// printRepros shrinks the invariant's example runs and prints up to
// c.repros distinct minimal scenarios, unexplained ones in full.
func printRepros(e *explore.Explorer, rep explore.Report, invariant string, c exploreConfig, w io.Writer) (bool, error) {
	seen := map[string]bool{}
	unexplained := false
	for _, r := range rep.Examples {
		if !r.Broke(invariant) || len(seen) >= c.repros {
			continue
		}
		m := e.ShrinkViolation(r, firstViolation(r, invariant))
		if seen[m.Names()] {
			continue
		}
		seen[m.Names()] = true
		v := firstViolation(m, invariant)
		fmt.Fprintf(w, "%s [%s]: %s\n  minimal: [%s]\n", runID(r), r.Names(), v.Detail, m.Names())
		if k := explore.KnownIssueOf(m, v); k != nil {
			fmt.Fprintf(w, "  known issue (%s): %s\n", k.Repro, k.Why)
			if c.out == "" {
				continue
			}
		} else {
			unexplained = true
		}
		fmt.Fprintf(w, "-- %s --\n%s", m.ScenarioName(), m.Scenario())
		if err := writeScenario(c.out, m); err != nil {
			return unexplained, err
		}
	}
	return unexplained, nil
}

func firstViolation(r *explore.Run, invariant string) explore.Violation {
	for _, v := range r.Violations {
		if v.Invariant == invariant {
			return v
		}
	}
	return explore.Violation{Invariant: invariant}
}

func runID(r *explore.Run) string {
	if r.Seed != 0 {
		return fmt.Sprintf("seed %d", r.Seed)
	}
	return fmt.Sprintf("#%d", r.Index)
}

// writeScenario writes m's scenario to dir (nothing when dir is "").
func writeScenario(dir string, m *explore.Run) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, m.ScenarioName()), []byte(m.Scenario()), 0o644)
}

// showRun prints one exhaustive run by index.
func showRun(e *explore.Explorer, c exploreConfig, stdout, stderr io.Writer) int {
	combo := e.Catalogue().At(c.depth, c.show)
	if combo == nil {
		fmt.Fprintf(stderr, "nixfleet-activate explore: no run #%d at depth %d\n", c.show, c.depth)
		return ExitUsage
	}
	r := e.Trace(combo)
	r.Index = c.show
	fmt.Fprintf(stdout, "run #%d [%s]\n-- %s --\n%s\n", r.Index, r.Names(), r.ScenarioName(), r.Scenario())
	for _, v := range r.Violations {
		fmt.Fprintf(stdout, "violation %s\n", v)
	}
	fmt.Fprintln(stdout, "commands (virtual time):")
	for _, entry := range r.Log {
		fmt.Fprintf(stdout, "  %s\n", entry)
	}
	fmt.Fprintf(stdout, "host after the run:\n%s", indent(r.Summary))
	return ExitSuccess
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ") + "\n"
}

// bySize words counts per number of faults: [1 81 2935] with noun
// "combination" reads "1 combination with no fault, 81 with 1 fault, 2935
// with 2 faults".
func bySize(counts []int, noun string) string {
	parts := make([]string, 0, len(counts))
	for size, n := range counts {
		switch size {
		case 0:
			parts = append(parts, plural(n, noun)+" with no fault")
		case 1:
			parts = append(parts, fmt.Sprintf("%d with 1 fault", n))
		default:
			parts = append(parts, fmt.Sprintf("%d with %d faults", n, size))
		}
	}
	return strings.Join(parts, ", ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
