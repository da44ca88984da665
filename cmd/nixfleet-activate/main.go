// Command nixfleet-activate switches a NixOS host to a new system closure
// safely, rolls it back, and reports the host's activation state. The
// outcome goes to stdout as one JSON object; logs go to stderr.
//
//	nixfleet-activate [flags] activate <closure-basename-or-store-path>
//	nixfleet-activate [flags] rollback
//	nixfleet-activate [flags] recover
//	nixfleet-activate [flags] status
//	nixfleet-activate [flags] unblock [--stop-own-unit --older-than D]
//
// With --sim NAME the same binary runs against an embedded simulated host
// (see --sim list), so the pipeline can be watched on any machine.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// LOADBEARING: before anything opens a file or writes a stream.
	stdout, stderr := guardStreams()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], stdout, stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it parses args, runs one subcommand and
// returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "explore" {
		return runExplore(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "scenario" {
		return runScenario(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "transcript" {
		return runTranscript(ctx, args[1:], stdout, stderr)
	}
	cfg, err := parseArgs(args, stderr)
	if errors.Is(err, errHelp) {
		printHelp(stdout, newFlagSet(&config{meta: map[string]string{}}, io.Discard), cfg.command)
		return ExitSuccess
	}
	if err != nil {
		fmt.Fprintf(stderr, "nixfleet-activate: %v\n%s\n", err, usageHint(args))
		return ExitUsage
	}
	if cfg.version {
		fmt.Fprintln(stdout, "nixfleet-activate", versionString())
		return ExitSuccess
	}
	if cfg.sim == "list" {
		listSims(stdout)
		return ExitSuccess
	}
	env, err := newEnvironment(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "nixfleet-activate: %v\n", err)
		return ExitInternal
	}
	switch cfg.command {
	case "activate":
		return env.activate(ctx, stdout)
	case "rollback":
		return env.rollback(ctx, stdout)
	case "recover":
		return env.recover(ctx, stdout)
	case "unblock":
		return env.unblock(ctx, stdout)
	case "confirm":
		return env.confirm(stdout)
	default:
		return env.status(ctx, stdout)
	}
}
