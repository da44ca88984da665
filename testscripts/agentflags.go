package testscripts

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// agentConfig is how the agent is configured for every later run of the
// script: the pipeline options and backend settings the binary's flags
// give (`agent`); activate's and rollback's own options override it per
// run.
type agentConfig struct {
	// substituters and trustedKeys are passed as nix-store --realise's own
	// --option substituters / trusted-public-keys (nil: nix.conf's).
	substituters, trustedKeys []string
	// opts are the run options (zero fields: the pipeline's defaults).
	opts pipeline.Options
	// waitLock is --wait-lock: how long a run waits for the agent lock.
	waitLock time.Duration
	// realiseTimeout and commandTimeout bound the backend's commands
	// (zero: the real backend's defaults, 30 min and 60 s).
	realiseTimeout, commandTimeout time.Duration
}

// AgentFlags lists the binary's flags that `agent` accepts, in the
// binary's spelling (cmd/nixfleet-activate/flags.go): a fleet's unit's
// command line carries over to a scenario as it is.
var AgentFlags = []string{"poll-interval", "poll-budget", "progress-interval", "switch-unit", "rollback-unit",
	"restore-unit", "on-failure", "on-unhealthy", "require-running", "confirm-within", "substituters",
	"trusted-public-keys", "realise-timeout", "command-timeout", "wait-lock", "poll-only"}

// agentFlagSet declares AgentFlags over c; the string flags are read
// after parsing (agentStrings).
func agentFlagSet(c *agentConfig, s *agentStrings) *flag.FlagSet {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := &c.opts
	fs.DurationVar(&o.PollInterval, "poll-interval", 0, "")
	fs.DurationVar(&o.PollBudget, "poll-budget", 0, "")
	fs.DurationVar(&o.ProgressInterval, "progress-interval", 0, "")
	fs.StringVar(&o.SwitchUnit, "switch-unit", "", "")
	fs.StringVar(&o.RollbackUnit, "rollback-unit", "", "")
	fs.StringVar(&o.RestoreUnit, "restore-unit", "", "")
	fs.StringVar(&s.onFailure, "on-failure", "", "")
	fs.StringVar(&s.onUnhealthy, "on-unhealthy", "", "")
	fs.BoolVar(&o.RequireRunning, "require-running", false, "")
	fs.DurationVar(&o.ConfirmWithin, "confirm-within", 0, "")
	fs.StringVar(&s.substituters, "substituters", "", "")
	fs.StringVar(&s.trustedKeys, "trusted-public-keys", "", "")
	fs.DurationVar(&c.realiseTimeout, "realise-timeout", 0, "")
	fs.DurationVar(&c.commandTimeout, "command-timeout", 0, "")
	fs.DurationVar(&c.waitLock, "wait-lock", 0, "")
	fs.BoolVar(&s.pollOnly, "poll-only", false, "")
	return fs
}

// agentStrings are the flags read after parsing.
type agentStrings struct {
	onFailure, onUnhealthy, substituters, trustedKeys string
	pollOnly                                          bool
}

// parseAgentFlags reads the binary's flags (--name value, --name=value)
// into a fresh configuration. Errors: an unknown flag, a bad value, a
// positional word.
func parseAgentFlags(args []string) (agentConfig, error) {
	var c agentConfig
	var s agentStrings
	fs := agentFlagSet(&c, &s)
	if err := fs.Parse(args); err != nil {
		return c, usagef("%w (the binary's flags agent takes: --%s)", err, strings.Join(AgentFlags, ", --"))
	}
	if fs.NArg() > 0 {
		return c, usagef("unexpected %q: flags come as --name value or --name=value", fs.Args())
	}
	if err := s.apply(&c); err != nil {
		return c, err
	}
	return c, c.check()
}

// apply checks and stores the string flags.
func (s agentStrings) apply(c *agentConfig) error {
	c.opts.OnFailure, c.opts.OnUnhealthy = pipeline.OnFailure(s.onFailure), pipeline.OnUnhealthy(s.onUnhealthy)
	if !validOnFailure(c.opts.OnFailure) {
		return fmt.Errorf("--on-failure must be restore or keep, got %q", s.onFailure)
	}
	if !validOnUnhealthy(c.opts.OnUnhealthy) {
		return fmt.Errorf("--on-unhealthy must be rollback or keep, got %q", s.onUnhealthy)
	}
	c.substituters = strings.Fields(s.substituters)
	c.trustedKeys = simKeys(strings.Fields(s.trustedKeys))
	return nil
}

// check rejects negative durations and an interval beyond the budget, as
// the binary does.
func (c agentConfig) check() error {
	for _, d := range []time.Duration{c.opts.PollInterval, c.opts.PollBudget, c.opts.ProgressInterval,
		c.opts.ConfirmWithin, c.realiseTimeout, c.commandTimeout, c.waitLock} {
		if d < 0 {
			return errors.New("durations must not be negative")
		}
	}
	if c.opts.PollInterval > 0 && c.opts.PollBudget > 0 && c.opts.PollInterval > c.opts.PollBudget {
		return fmt.Errorf("--poll-interval %s is longer than --poll-budget %s", c.opts.PollInterval, c.opts.PollBudget)
	}
	return nil
}

// simKeys maps trusted-public-keys to the simulator's keys: a key is
// known by its name, the part before the colon (Nix's NAME:BASE64), so a
// fleet's real key line names the keys its closures' `offer ...
// signed-by=NAME` lines sign with.
func simKeys(keys []string) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		name, _, _ := strings.Cut(k, ":")
		out = append(out, sim.Key(name))
	}
	return out
}

// validOnFailure reports whether f is a policy of --on-failure ("":
// unset, the pipeline's default).
func validOnFailure(f pipeline.OnFailure) bool {
	return f == "" || f == pipeline.OnFailureRestore || f == pipeline.OnFailureKeep
}

// validOnUnhealthy reports whether u is a policy of --on-unhealthy ("":
// unset, the pipeline's default).
func validOnUnhealthy(u pipeline.OnUnhealthy) bool {
	return u == "" || u == pipeline.OnUnhealthyRollback || u == pipeline.OnUnhealthyKeep
}
