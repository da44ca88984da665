package main

import (
	"io"
	"strings"
	"testing"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// FuzzParseArgs feeds arbitrary command lines (NUL-separated) to the flag
// parser: it never panics, and whatever it accepts has valid unit names,
// absolute paths, a bounded --wait-lock, a known subcommand, and an
// activate closure whose rejection message is bounded.
func FuzzParseArgs(f *testing.F) {
	for _, seed := range []string{
		"activate\x00-rf", "activate\x00--\x00--dry-run", "--switch-unit\x00-x\x00status", "--switch-unit=a@b\x00rollback",
		"--state-dir\x00\x00recover", "--wait-lock\x0090m\x00recover", "activate\x00x\x00--meta\x00k=v", "-h",
		"--sim\x00happy\x00activate", "status\x00--bogus", "--poll-interval=1s\x00activate\x00é",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\x00")
		c, err := parseArgs(args, io.Discard)
		if err != nil && len(err.Error()) > maxUsageMessage+40 {
			t.Fatalf("unbounded usage message: %d bytes", len(err.Error()))
		}
		if err != nil || c.sim == "list" {
			return
		}
		for _, unit := range []string{c.opts.SwitchUnit, c.opts.RollbackUnit} {
			if verr := pipeline.ValidateUnitName(unit); verr != nil {
				t.Fatalf("accepted a bad unit name: %v", verr)
			}
		}
		for _, p := range []string{c.stateDir, c.agentLock, c.opts.StoreDir, c.opts.Profile, c.root} {
			if !strings.HasPrefix(p, "/") {
				t.Fatalf("accepted a relative path %q", p)
			}
		}
		if c.waitLock < 0 || c.waitLock > maxWaitLock {
			t.Fatalf("accepted --wait-lock %s", c.waitLock)
		}
		switch c.command {
		case "activate":
			// An empty or hostile closure is accepted here: it gets the
			// invalid-input outcome from ParseClosure, which must say why.
			if _, err := pipeline.ParseClosure(c.opts.WithDefaults().StoreDir, c.closure); err != nil && len(err.Error()) > 600 {
				t.Fatalf("unbounded message: %d bytes", len(err.Error()))
			}
		case "rollback", "recover", "status":
		default:
			t.Fatalf("accepted subcommand %q", c.command)
		}
	})
}

func TestClosureBeginningWithDashIsAPositional(t *testing.T) {
	c, err := parseArgs([]string{"activate", "-rf", "--dry-run"}, io.Discard)
	if err != nil || c.closure != "-rf" || !c.dryRun {
		t.Fatalf("got %+v, %v", c, err)
	}
	c, err = parseArgs([]string{"activate", "--", "--dry-run"}, io.Discard)
	if err != nil || c.closure != "--dry-run" || c.dryRun {
		t.Fatalf("after --, got %+v, %v", c, err)
	}
	_, err = parseArgs([]string{"status", "--bogus"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `unknown flag "--bogus"`) {
		t.Fatalf("unknown flag: %v", err)
	}
}
