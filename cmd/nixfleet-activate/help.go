package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// subcommandHelp is each subcommand's help: its synopsis, what it does and
// examples (printed by `nixfleet-activate SUBCOMMAND -h`, on stdout).
var subcommandHelp = map[string]string{
	"activate": `usage: nixfleet-activate [flags] activate <closure-basename-or-store-path>

Realises the closure (fetch and signature check), points the system profile at
it and runs its switch-to-configuration switch in a transient unit (boot instead,
when the kernel, initrd, modules, systemd or dbus change), then waits until
/run/current-system is the closure. Prints one JSON outcome on stdout; logs,
progress lines and a one-line summary go to stderr.

examples:
  nixfleet-activate activate /nix/store/<hash>-nixos-system-web1-24.05
  nixfleet-activate activate --meta rollout=r42 --poll-budget 10m <hash>-nixos-system-web1-24.05
  nixfleet-activate activate --dry-run <hash>-nixos-system-web1-24.05   # the plan: the run's steps, nothing run
  nixfleet-activate --sim happy activate                               # a simulated host
`,
	"rollback": `usage: nixfleet-activate [flags] rollback

Points the system profile back (to where the last activation started, or
--generation N) and switches to that generation's closure.

examples:
  nixfleet-activate rollback
  nixfleet-activate rollback --generation 41
  nixfleet-activate --sim happy rollback
`,
	"recover": `usage: nixfleet-activate [flags] recover

Works out what became of a run that did not finish (agent killed, host rebooted)
from its in-flight record, without firing anything again. Exits with the
recovered outcome's code, 0 when there was nothing to recover.

examples:
  nixfleet-activate recover
  nixfleet-activate --sim killed-mid-switch recover
`,
	"status": `usage: nixfleet-activate [flags] status [--json]

Shows what the host runs, the profile's generations, the switch lock, the
transient units, an unfinished run's record and the last activation. Read-only:
it never changes anything. A table on a terminal, JSON otherwise or with --json.
Exits 1 when nothing could be read.

examples:
  nixfleet-activate status
  nixfleet-activate status --json | jq .current_system
  nixfleet-activate --sim happy status
`,
	"confirm": `usage: nixfleet-activate [flags] confirm

Confirms the activation in flight that waits for a confirmation (activate
--confirm-within D): prints {"confirmed":bool,"closure":...,"reason":...}; exit 4
when no activation is in flight.

examples:
  nixfleet-activate confirm
`,
	"unblock": `usage: nixfleet-activate [flags] unblock [--stop-own-unit --older-than DURATION]

Says who holds the switch lock and, with --stop-own-unit, stops this agent's own
switch unit when it has held the lock longer than --older-than.

examples:
  nixfleet-activate unblock
  nixfleet-activate unblock --stop-own-unit --older-than 30m
`,
}

// subcommands lists the subcommands parsed with the shared flags, in help
// order.
var subcommands = []string{"activate", "rollback", "recover", "status", "unblock", "confirm"}

// ownFlagSubcommands are the subcommands with their own flags and parsers
// (run dispatches them before the shared flags are parsed).
var ownFlagSubcommands = []string{"explore", "scenario", "transcript"}

// subcommandList names every subcommand, for usage errors and hints.
func subcommandList() string {
	return strings.Join(append(slices.Clone(subcommands), ownFlagSubcommands...), ", ")
}

// printHelp writes the help for command ("" for the global help) and the
// flags to w.
func printHelp(w io.Writer, fs *flag.FlagSet, command string) {
	if text, ok := subcommandHelp[command]; ok {
		fmt.Fprint(w, text)
		fmt.Fprint(w, "\nFlags (any subcommand; before or after it):\n")
	} else {
		fmt.Fprint(w, usageText)
	}
	printFlagDefaults(w, fs)
}

// printFlagDefaults writes fs's flags as flag.PrintDefaults does (name,
// type, usage, a non-zero default), but spelled with two dashes, as the
// README and the errors spell them.
func printFlagDefaults(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		typeName, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if typeName != "" {
			line += " " + typeName
		}
		fmt.Fprintf(w, "%s\n    \t%s%s\n", line, strings.ReplaceAll(usage, "\n", "\n    \t"), defaultNote(f, typeName))
	})
}

// defaultNote is " (default X)" for a flag whose default is not its type's
// zero value ("" otherwise); strings are quoted, as flag.PrintDefaults does.
func defaultNote(f *flag.Flag, typeName string) string {
	switch f.DefValue {
	case "", "0", "0s", "false":
		return ""
	}
	if typeName == "string" {
		return fmt.Sprintf(" (default %q)", f.DefValue)
	}
	return fmt.Sprintf(" (default %v)", f.DefValue)
}

// helpTopic returns the first subcommand named in args ("" when none), for
// -h anywhere on the line.
func helpTopic(args []string) string {
	for _, a := range args {
		if _, ok := subcommandHelp[a]; ok {
			return a
		}
	}
	return ""
}

// usageHint is appended to every usage error: one short line, never the
// whole usage.
func usageHint(args []string) string {
	if topic := helpTopic(args); topic != "" {
		return "see: nixfleet-activate " + topic + " -h"
	}
	return "see: nixfleet-activate -h (subcommands: " + subcommandList() + ")"
}
