package main

import (
	"flag"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// maxWaitLock bounds --wait-lock: a run never queues behind another for
// longer than a whole default poll budget plus a realise would take.
const maxWaitLock = time.Hour

// parseInterleaved lets flags follow positional arguments. An argument is
// a flag only when it names a defined one (or asks for help); anything
// else, "-x" included, is positional, so a closure beginning with "-"
// reaches validation and gets the invalid-input outcome. After "--" every
// argument is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			return append(positional, args[1:]...), nil
		}
		n := flagArgs(fs, args)
		if n == 0 {
			positional = append(positional, a)
			args = args[1:]
			continue
		}
		if err := fs.Parse(args[:n]); err != nil {
			return nil, err
		}
		args = args[n:]
	}
	return positional, nil
}

// flagArgs returns how many arguments the flag at args[0] takes up (1, or
// 2 for a non-boolean flag without "=VALUE"), 0 when args[0] is no flag of
// fs. -h, -help and --help count as flags (fs.Parse reports flag.ErrHelp).
func flagArgs(fs *flag.FlagSet, args []string) int {
	name, ok := flagName(args[0])
	if !ok {
		return 0
	}
	if name == "h" || name == "help" {
		return 1
	}
	f := fs.Lookup(name)
	if f == nil {
		return 0
	}
	if b, isBool := f.Value.(interface{ IsBoolFlag() bool }); (isBool && b.IsBoolFlag()) || strings.Contains(args[0], "=") {
		return 1
	}
	return min(2, len(args))
}

// flagName returns the name of "-name", "--name" or "--name=value".
func flagName(arg string) (string, bool) {
	if len(arg) < 2 || arg[0] != '-' {
		return "", false
	}
	name := strings.TrimPrefix(arg[1:], "-")
	name, _, _ = strings.Cut(name, "=")
	return name, name != "" && name[0] != '-'
}

// unknownFlag returns the first argument that looks like a flag ("" if
// none), to explain a surplus positional argument.
func unknownFlag(args []string) string {
	for _, a := range args {
		if _, ok := flagName(a); ok {
			return a
		}
	}
	return ""
}

// checkHardening rejects, at parse time, what would otherwise fail late or
// be read by a tool as an option: unit names (systemd 252's rules, no
// leading "-"), relative or empty paths, and an unbounded --wait-lock.
func (c *config) checkHardening() error {
	for flagName, unit := range map[string]string{"--switch-unit": c.opts.SwitchUnit, "--rollback-unit": c.opts.RollbackUnit,
		"--restore-unit": c.opts.RestoreUnit} {
		if err := pipeline.ValidateUnitName(unit); err != nil {
			return fmt.Errorf("%s: %w", flagName, err)
		}
	}
	paths := []struct{ flag, value string }{
		{"--state-dir", c.stateDir}, {"--agent-lock", c.agentLock}, {"--store-dir", c.opts.StoreDir},
		{"--profile", c.opts.Profile}, {"--current-system", c.opts.CurrentSystem},
		{"--booted-system", c.opts.BootedSystem}, {"--lock", c.opts.LockPath}, {"--boot-id", c.opts.BootIDPath}, {"--root", c.root},
	}
	// Optional paths ("" = none) must be absolute when given.
	if c.metricsFile != "" {
		paths = append(paths, struct{ flag, value string }{"--metrics-file", c.metricsFile})
	}
	for _, p := range paths {
		if !path.IsAbs(p.value) {
			return fmt.Errorf("%s must be an absolute path, got %s", p.flag, pipeline.QuoteInput(p.value))
		}
	}
	if c.waitLock < 0 || c.waitLock > maxWaitLock {
		return fmt.Errorf("--wait-lock must be between 0 and %s, got %s", maxWaitLock, c.waitLock)
	}
	return nil
}

// maxUsageMessage bounds a flag error's message, in bytes: the flag
// package quotes a rejected value whole.
const maxUsageMessage = 400

// boundedError cuts err's message to maxUsageMessage bytes (at a rune
// boundary), so a hostile argument cannot flood the log.
func boundedError(err error) error {
	msg := err.Error()
	if len(msg) <= maxUsageMessage {
		return err
	}
	cut := maxUsageMessage
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return fmt.Errorf("%s…(%d bytes)", msg[:cut], len(msg))
}
