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

	"github.com/nixfleet/nixfleet-activate/testscripts"
)

// scenarioHelp is the help of `scenario` and its subcommands (printed by
// `nixfleet-activate scenario [SUBCOMMAND] -h`, on stdout).
var scenarioHelp = map[string]string{
	"": `usage: nixfleet-activate scenario run [--junit FILE] PATH...
       nixfleet-activate scenario help [COMMAND]

Runs scenario suites: files in the scenario language (testscripts), each on a
fresh simulated NixOS host in virtual time, with no Go toolchain. A fleet pins
how the agent behaves with its own flags, closures and failure policy.

examples:
  nixfleet-activate scenario run --junit report.xml examples/fleet-suite/
  nixfleet-activate scenario help activate
`,
	"run": `usage: nixfleet-activate scenario run [--junit FILE] PATH...

Runs every scenario of each PATH: a .txtar file, or a directory's *.txtar files
(not its subdirectories), each on a fresh simulated host. Prints one line per
scenario (ok, FAIL or skip; virtual time; wall time), and for a failure the
failing command and the script's log; then a summary line. Exit codes: 0 when
every scenario passed, 1 when one failed, 2 usage (no such path, no scenario).
The script's cli command runs this binary's command line in-process, and exec
finds this binary on PATH as nixfleet-activate.

examples:
  nixfleet-activate scenario run examples/fleet-suite/
  nixfleet-activate scenario run --junit report.xml ci/scenarios/ ci/extra.txtar
`,
	"help": `usage: nixfleet-activate scenario help [COMMAND]

Prints the scenario language's reference (the text of testscripts/README.md
before its list of the repository's own scenarios), or one command's entry.

examples:
  nixfleet-activate scenario help
  nixfleet-activate scenario help switch
`,
}

// runScenario is the scenario subcommand.
func runScenario(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "nixfleet-activate scenario: missing subcommand (run, help)\nsee: nixfleet-activate scenario -h\n")
		return ExitUsage
	}
	if isHelpFlag(args[0]) {
		fmt.Fprint(stdout, scenarioHelp[""])
		return ExitSuccess
	}
	switch args[0] {
	case "run":
		return runScenarioRun(ctx, args[1:], stdout, stderr)
	case "help":
		return runScenarioHelp(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "nixfleet-activate scenario: unknown subcommand %q (run, help)\nsee: nixfleet-activate scenario -h\n", args[0])
	return ExitUsage
}

func isHelpFlag(a string) bool { return a == "-h" || a == "--help" || a == "-help" }

// runScenarioHelp prints the language reference or one command's entry.
func runScenarioHelp(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		fmt.Fprint(stdout, testscripts.Reference())
		return ExitSuccess
	case isHelpFlag(args[0]):
		fmt.Fprint(stdout, scenarioHelp["help"])
		return ExitSuccess
	case len(args) > 1:
		fmt.Fprintf(stderr, "nixfleet-activate scenario help: want at most one COMMAND, got %q\n", args)
		return ExitUsage
	}
	text, ok := testscripts.CommandReference(args[0])
	if !ok {
		fmt.Fprintf(stderr, "nixfleet-activate scenario help: unknown command %q%s (%s)\n", args[0],
			didYouMean(testscripts.SuggestCommands(args[0])), strings.Join(testscripts.CommandNames(), ", "))
		return ExitUsage
	}
	fmt.Fprint(stdout, text)
	return ExitSuccess
}

// runScenarioRun runs the scenarios of the paths and reports them.
func runScenarioRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nixfleet-activate scenario run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	junit := fs.String("junit", "", "also write a JUnit XML report to FILE")
	paths, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, scenarioHelp["run"], "\nFlags:\n")
		printFlagDefaults(stdout, fs)
		return ExitSuccess
	}
	if flagLike := unknownFlag(paths); err == nil && flagLike != "" {
		err = fmt.Errorf("unknown flag %s", flagLike)
	}
	if err != nil {
		return scenarioUsage(stderr, err)
	}
	files, err := scenarioFiles(paths)
	if err != nil {
		return scenarioUsage(stderr, err)
	}
	opts, cleanup, err := inProcessOptions(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "nixfleet-activate scenario run: %v\n", err)
		return ExitInternal
	}
	defer cleanup()
	start := time.Now()
	results, err := testscripts.RunFiles(files, opts)
	if err != nil {
		fmt.Fprintf(stderr, "nixfleet-activate scenario run: %v\n", err)
		return ExitInternal
	}
	failed := printResults(stdout, results, time.Since(start))
	if *junit != "" {
		if err := writeJUnit(*junit, results, start); err != nil {
			fmt.Fprintf(stderr, "nixfleet-activate scenario run: --junit: %v\n", err)
			return ExitInternal
		}
	}
	if failed > 0 {
		return ExitScenarioFailed
	}
	return ExitSuccess
}

func scenarioUsage(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "nixfleet-activate scenario run: %v\nsee: nixfleet-activate scenario run -h\n", err)
	return ExitUsage
}

// scenarioFiles expands the paths: a file is itself, a directory its
// *.txtar files in name order. Errors: no path, a path that cannot be
// read, a directory with no scenario.
func scenarioFiles(paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("want at least one PATH (a .txtar file or a directory of them)")
	}
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		found, err := filepath.Glob(filepath.Join(p, "*.txtar"))
		if err != nil || len(found) == 0 {
			return nil, fmt.Errorf("%s: no *.txtar scenario in this directory", p)
		}
		slices.Sort(found)
		files = append(files, found...)
	}
	return files, nil
}

// inProcessOptions runs `cli` in this process (run, no binary to build)
// and puts this executable on the scripts' PATH as nixfleet-activate for
// `exec`; cleanup removes that directory.
func inProcessOptions(ctx context.Context) (testscripts.Options, func(), error) {
	opts := testscripts.Options{CLI: func(_ context.Context, _ string, args []string, stdout, stderr io.Writer) (int, error) {
		return run(ctx, args, stdout, stderr), nil
	}}
	self, err := os.Executable()
	if err != nil {
		return opts, func() {}, err
	}
	dir, err := os.MkdirTemp("", "nixfleet-activate-scenario-")
	if err != nil {
		return opts, func() {}, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	if err := os.Symlink(self, filepath.Join(dir, "nixfleet-activate")); err != nil {
		cleanup()
		return opts, func() {}, err
	}
	opts.BinDir = dir
	return opts, cleanup, nil
}

// printResults prints one line per scenario, each failure's command and
// log, and a summary; it returns how many failed.
func printResults(w io.Writer, results []testscripts.Result, wall time.Duration) int {
	width := 0
	for _, r := range results {
		width = max(width, len(r.Name))
	}
	failed, skipped := 0, 0
	for _, r := range results {
		status := "ok"
		switch {
		case r.Failed:
			status = "FAIL"
			failed++
		case r.Skipped:
			status = "skip"
			skipped++
		}
		fmt.Fprintf(w, "%-4s  %-*s  virtual %-10s  wall %s\n", status, width, r.Name, r.Virtual, roundWall(r.Wall))
		if r.Failed {
			printFailure(w, r)
		}
	}
	fmt.Fprintf(w, "\n%s: %d passed, %d failed, %d skipped (wall %s)\n",
		plural(len(results), "scenario"), len(results)-failed-skipped, failed, skipped, roundWall(wall))
	return failed
}

// printFailure prints a failed scenario's failing command and its log,
// indented under its line.
func printFailure(w io.Writer, r testscripts.Result) {
	if r.FailedCommand != "" {
		fmt.Fprintf(w, "      failing command: %s\n", r.FailedCommand)
	}
	fmt.Fprintf(w, "      %s\n      log:\n", r.FailedAt)
	for _, line := range strings.Split(strings.TrimRight(r.Log, "\n"), "\n") {
		fmt.Fprintf(w, "        %s\n", line)
	}
}

// roundWall rounds a wall time for reading (10 µs).
func roundWall(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }

// didYouMean is " (did you mean X?)" for the near names, "" for none.
func didYouMean(near []string) string {
	switch len(near) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf(" (did you mean %q?)", near[0])
	}
	return fmt.Sprintf(" (did you mean one of %q?)", near)
}
