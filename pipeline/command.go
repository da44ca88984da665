package pipeline

import (
	"context"
	"errors"
	"path"
	"slices"
	"strings"
)

// commandOps are the words that name a command's operation after its
// program: nix-store/nix-env operations (Nix 2.8) and systemctl verbs
// (systemd 252).
var commandOps = []string{
	"--realise", "-r", "--set", "--rollback", "--switch-generation", "--list-generations", "--delete",
	"show", "stop", "start", "reset-failed",
}

// CommandName names a command line by its program's base name and its
// operation ("nix-env --set", "systemctl stop", "systemd-run").
func CommandName(argv []string) string {
	if len(argv) == 0 {
		return ""
	}
	name := path.Base(argv[0])
	for _, a := range argv[1:] {
		if slices.Contains(commandOps, a) {
			return name + " " + a
		}
	}
	return name
}

// commandReport describes the command whose failure err reports. name is
// what the call site ran, used unless err's command line says more (a
// *CommandError from Fire names which of its commands failed). A
// *RealiseError is retryable as its kind says; a timeout
// (context.DeadlineExceeded) has no exit status and is retryable; any
// other failure is not.
func commandReport(name string, err error) *CommandReport {
	rep := &CommandReport{Name: name, ExitCode: UnknownExit()}
	var ce *CommandError
	var re *RealiseError
	switch {
	case errors.As(err, &re):
		rep.ExitCode, rep.StderrTail, rep.Retryable = KnownExit(re.ExitCode), Tail(re.Stderr, MaxStderrTail), re.Kind.Retryable()
	case errors.As(err, &ce):
		rep.Name = moreSpecific(name, CommandName(ce.Argv))
		rep.ExitCode, rep.StderrTail = KnownExit(ce.ExitCode), Tail(ce.Stderr, MaxStderrTail)
	case errors.Is(err, context.DeadlineExceeded):
		rep.Retryable = true
	}
	return rep
}

// moreSpecific returns fromArgv unless it says less than the call site's
// name (no operation, same program).
func moreSpecific(site, fromArgv string) string {
	if fromArgv == "" || (!strings.Contains(fromArgv, " ") && strings.HasPrefix(site, fromArgv+" ")) {
		return site
	}
	return fromArgv
}
