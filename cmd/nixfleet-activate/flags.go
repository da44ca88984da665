package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// errHelp reports that -h was given: the caller prints the help.
var errHelp = errors.New("help requested")

// config is everything the command line says.
type config struct {
	command   string // activate, rollback, status
	closure   string // activate's argument, as given
	meta      map[string]string
	opts      pipeline.Options
	root      string // filesystem root the paths live under ("/" in production)
	stateDir  string // where the in-flight record and the realise GC roots live
	dryRun    bool
	logFormat string // auto, text, json
	logLevel  string
	sim       string // embedded simulated host scenario; "" = the real host
	pollOnly  bool   // no event watch: read every --poll-interval only
	// stopOwnUnit and olderThan are unblock's: stop our own switch unit
	// when it has held the lock longer than olderThan.
	stopOwnUnit bool
	olderThan   time.Duration

	onFailure                 string // restore or keep
	onUnhealthy               string // rollback or keep (issue 18)
	substituters, trustedKeys string
	realiseTimeout            time.Duration
	commandTimeout            time.Duration

	agentLock string        // the agent lock file (one run per host)
	waitLock  time.Duration // how long a run waits for the agent lock

	version     bool   // --version: print the version and exit
	json        bool   // status --json
	metricsFile string // --metrics-file: node_exporter textfile ("" = none)
	record      string // --record: transcript file of the pipeline call ("" = none)
}

const usageText = `usage: nixfleet-activate [flags] activate <closure-basename-or-store-path>
       nixfleet-activate [flags] rollback
       nixfleet-activate [flags] recover
       nixfleet-activate [flags] status
       nixfleet-activate [flags] unblock [--stop-own-unit --older-than DURATION]
       nixfleet-activate [flags] confirm  (confirm the activation awaiting --confirm-within)
       nixfleet-activate explore [--depth k] [--seed s --runs n]  (its own flags; explore -h)
       nixfleet-activate scenario run [--junit FILE] PATH... | scenario help [COMMAND]  (scenario -h)
       nixfleet-activate transcript replay FILE | transcript scenario FILE  (transcript -h)
       nixfleet-activate --version

Each subcommand explains itself with examples: nixfleet-activate activate -h.

Every invocation first recovers an unfinished earlier run from its in-flight
record (see recover) and reports it under "earlier".

Flags may come before or after the subcommand. Exit codes: 0 settled,
rollback-succeeded or already-current; 2 usage; 3 invalid-input; 4 skipped (lock held, retry);
5 realise-failed; 6 signature-mismatch; 7 switch-failed or rollback-failed;
8 verify-mismatch; 9 deferred-pending-reboot; 10 settled-degraded or
rollback-degraded; 11 interrupted; 12 abandoned (recovered run never
fired); 13 the outcome could not be written to stdout (it is logged); 1
bad-environment or internal error; 14 invalid-closure; 15 rolled-back (the
closure was unhealthy or unconfirmed and the host runs the previous one).
confirm exits 0 when it confirmed, 4 when no activation is in flight. recover exits with its recovered
outcome's code, 0 when there was nothing to recover. activate, rollback and
recover hold the agent lock (--agent-lock): a second run is skipped (phase
agent-lock) unless --wait-lock lets it wait.

Flags:
`

func newFlagSet(c *config, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("nixfleet-activate", flag.ContinueOnError)
	// GOTCHA: the flag package prints the usage and the error to its output
	// on every parse error; run prints one short error and a hint instead.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	o := &c.opts
	fs.DurationVar(&o.PollInterval, "poll-interval", pipeline.DefaultPollInterval, "time between reads of current-system")
	fs.BoolVar(&c.pollOnly, "poll-only", false, "wait for the switch by reading every --poll-interval only, and for the agent lock (--wait-lock) by retrying every 100ms only (default: also wake on inotify changes of current-system, on the switch unit's end over systemd's D-Bus and on the agent lock's release through a blocking flock(2), the interval being the fallback)")
	fs.DurationVar(&o.PollBudget, "poll-budget", pipeline.DefaultPollBudget, "time from firing the switch to giving up (at most "+maxBudget.String()+")")
	fs.DurationVar(&o.ProgressInterval, "progress-interval", pipeline.DefaultProgressInterval, "time between progress lines on stderr during long waits")
	fs.BoolVar(&c.version, "version", false, "print the version and exit")
	fs.StringVar(&c.record, "record", "", "write a transcript of the run (every command, link read, lock probe and clock reading; secrets redacted) to FILE, for a bug report; a real run only: refused with --dry-run and --sim, whose answers come from no real host")
	fs.BoolVar(&c.json, "json", false, "status: print JSON even on a terminal")
	fs.StringVar(&c.metricsFile, "metrics-file", "", "after activate, rollback or recover: write node_exporter textfile metrics to this path (atomically; counters kept in the state directory)")
	fs.StringVar(&o.SwitchUnit, "switch-unit", pipeline.DefaultSwitchUnit, "transient unit name for switch-to-configuration")
	fs.StringVar(&o.RollbackUnit, "rollback-unit", pipeline.DefaultRollbackUnit, "transient unit name for the rollback's switch")
	fs.StringVar(&o.StoreDir, "store-dir", pipeline.DefaultStoreDir, "Nix store directory")
	fs.StringVar(&o.Profile, "profile", pipeline.DefaultProfile, "system profile")
	fs.StringVar(&o.CurrentSystem, "current-system", pipeline.DefaultCurrentSystem, "current-system link")
	fs.StringVar(&o.BootedSystem, "booted-system", pipeline.DefaultBootedSystem, "booted-system link")
	fs.StringVar(&o.LockPath, "lock", pipeline.DefaultLockPath, "switch-to-configuration lock file")
	fs.StringVar(&o.BootIDPath, "boot-id", pipeline.DefaultBootIDPath, "the kernel's boot ID (recover tells a reboot by it)")
	fs.StringVar(&o.RestoreUnit, "restore-unit", pipeline.DefaultRestoreUnit, "transient unit name for a restore's boot action")
	fs.StringVar(&c.onFailure, "on-failure", string(pipeline.OnFailureRestore), "after a failed run that moved the profile: restore (profile and boot default back) or keep")
	fs.BoolVar(&o.RequireRunning, "require-running", false, "activate: after the switch, systemctl is-system-running must not be degraded")
	fs.DurationVar(&o.ConfirmWithin, "confirm-within", 0, "activate: after the switch and its checks, wait this long for a run of nixfleet-activate confirm (0: no confirmation)")
	fs.StringVar(&c.onUnhealthy, "on-unhealthy", string(pipeline.OnUnhealthyRollback), "activate: an unhealthy or unconfirmed closure is rolled back (rollback) or kept, settled-degraded (keep)")
	fs.BoolVar(&o.Force, "force", false, "activate: switch even when the host already runs the closure")
	fs.IntVar(&o.RollbackGeneration, "generation", 0, "rollback: return to this profile generation (default: where the last activation started)")
	fs.StringVar(&c.root, "root", "/", "directory the paths above live under (--sim and --dry-run only; the real backend refuses it)")
	fs.StringVar(&c.stateDir, "state-dir", pipeline.DefaultStateDir, "directory of the in-flight record (crash recovery) and of the GC roots held from realise to profile set (gcroots/)")
	fs.BoolVar(&c.dryRun, "dry-run", false, "print the plan: the run's own steps (commands, record writes, waits) against a planning host; nothing runs, nothing changes")
	fs.StringVar(&c.logFormat, "log-format", "auto", "log format on stderr: auto (text on a terminal, else json), text, json")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.sim, "sim", "", "run against the embedded simulated host SCENARIO ('list' lists them)")
	fs.StringVar(&c.substituters, "substituters", "", "space-separated substituters for nix-store --realise (default: nix.conf's)")
	fs.StringVar(&c.trustedKeys, "trusted-public-keys", "", "space-separated trusted-public-keys for nix-store --realise (default: nix.conf's)")
	fs.DurationVar(&c.realiseTimeout, "realise-timeout", 30*time.Minute, "bound on one nix-store --realise")
	fs.DurationVar(&c.commandTimeout, "command-timeout", time.Minute, "bound on every other command")
	fs.BoolVar(&c.stopOwnUnit, "stop-own-unit", false, "unblock: stop this agent's own switch unit holding the lock (needs --older-than)")
	fs.DurationVar(&c.olderThan, "older-than", 0, "unblock: stop the own unit only when it has held the lock longer than this")
	fs.StringVar(&c.agentLock, "agent-lock", pipeline.DefaultAgentLockPath, "lock file serialising activate, rollback and recover on this host")
	fs.DurationVar(&c.waitLock, "wait-lock", 0, "wait up to this long for another run's agent lock (0: report skipped at once; at most "+maxWaitLock.String()+")")
	fs.Func("meta", "KEY=VALUE echoed in the outcome (repeatable)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("want KEY=VALUE, got %s", pipeline.QuoteInput(s))
		}
		c.meta[k] = v
		return nil
	})
	return fs
}

// parseArgs parses flags on either side of the subcommand. Its errors are
// bounded in length (boundedError).
func parseArgs(args []string, stderr io.Writer) (config, error) {
	c, err := parseAll(args)
	if err != nil && !errors.Is(err, errHelp) {
		err = boundedError(err)
	}
	return c, err
}

func parseAll(args []string) (config, error) {
	c := config{meta: map[string]string{}}
	fs := newFlagSet(&c, io.Discard)
	positional, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		c.command = helpTopic(args)
		return c, errHelp
	}
	if err != nil {
		return c, err
	}
	if c.sim == "list" || c.version {
		return c, nil
	}
	if err := c.checkValues(); err != nil {
		return c, err
	}
	// The GC roots that hold a closure from realise to profile set live in the state directory.
	c.opts.GCRootDir = path.Join(c.stateDir, "gcroots")
	if err := c.setCommand(positional); err != nil {
		return c, err
	}
	return c, c.checkRecord()
}

func (c *config) setCommand(positional []string) error {
	if len(positional) == 0 {
		return fmt.Errorf("missing subcommand (%s)", subcommandList())
	}
	c.command = positional[0]
	if _, isFlag := flagName(c.command); isFlag {
		return fmt.Errorf("unknown flag %s", pipeline.QuoteInput(c.command))
	}
	want := map[string]int{"activate": 1, "rollback": 0, "recover": 0, "status": 0, "unblock": 0, "confirm": 0}
	n, ok := want[c.command]
	if !ok {
		return fmt.Errorf("unknown subcommand %s (%s)", pipeline.QuoteInput(c.command), subcommandList())
	}
	if len(positional) == 1 && n == 1 && c.sim != "" {
		return nil // --sim: activate the scenario's own target
	}
	if len(positional)-1 != n {
		if flagLike := unknownFlag(positional[1:]); flagLike != "" {
			return fmt.Errorf("unknown flag %s", pipeline.QuoteInput(flagLike))
		}
		return fmt.Errorf("%s takes %d argument(s), got %d", c.command, n, len(positional)-1)
	}
	if n == 1 {
		c.closure = positional[1]
	}
	if c.dryRun && (c.command == "status" || c.command == "recover" || c.command == "confirm") {
		return errors.New("--dry-run applies to activate and rollback")
	}
	if c.json && c.command != "status" {
		return errors.New("--json applies to status (every other subcommand prints JSON)")
	}
	return c.checkUnblock()
}

// checkUnblock: --stop-own-unit belongs to unblock and needs a positive
// --older-than (issue 19).
func (c *config) checkUnblock() error {
	switch {
	case c.dryRun && c.command == "unblock":
		return errors.New("--dry-run applies to activate and rollback")
	case c.stopOwnUnit && c.command != "unblock":
		return errors.New("--stop-own-unit applies to unblock")
	case c.stopOwnUnit && c.olderThan <= 0:
		return errors.New("--stop-own-unit needs --older-than DURATION (a positive bound)")
	}
	return nil
}

// checkValues rejects values the flag package accepts but a run cannot use.
func (c *config) checkValues() error {
	if err := c.checkDurations(); err != nil {
		return err
	}
	if err := c.checkLogFlags(); err != nil {
		return err
	}
	switch f := pipeline.OnFailure(c.onFailure); f {
	case pipeline.OnFailureRestore, pipeline.OnFailureKeep:
		c.opts.OnFailure = f
	default:
		return fmt.Errorf("--on-failure must be restore or keep, got %q", c.onFailure)
	}
	switch u := pipeline.OnUnhealthy(c.onUnhealthy); u {
	case pipeline.OnUnhealthyRollback, pipeline.OnUnhealthyKeep:
		c.opts.OnUnhealthy = u
	default:
		return fmt.Errorf("--on-unhealthy must be rollback or keep, got %q", c.onUnhealthy)
	}
	if c.opts.ConfirmWithin < 0 {
		return fmt.Errorf("--confirm-within must not be negative, got %s", c.opts.ConfirmWithin)
	}
	if c.opts.RollbackGeneration < 0 {
		return fmt.Errorf("--generation must be a generation number, got %d", c.opts.RollbackGeneration)
	}
	if err := c.checkHardening(); err != nil { // hardening (issue 10): units, paths, --wait-lock
		return err
	}
	if c.sim != "" {
		if _, ok := simScenarios[c.sim]; !ok {
			return fmt.Errorf("--sim: unknown scenario %s (%s)", pipeline.QuoteInput(c.sim), strings.Join(simNames(), ", "))
		}
	}
	return nil
}

// maxBudget bounds --poll-budget and the other durations of a run: no
// switch, realise or command is worth waiting a day for.
const maxBudget = 24 * time.Hour

// checkDurations: every duration positive and at most maxBudget; the poll
// interval at most the poll budget (a progress interval beyond the budget
// only means no progress line).
func (c *config) checkDurations() error {
	for _, d := range []struct {
		name  string
		value time.Duration
	}{
		{"--poll-interval", c.opts.PollInterval}, {"--poll-budget", c.opts.PollBudget},
		{"--progress-interval", c.opts.ProgressInterval},
		{"--realise-timeout", c.realiseTimeout}, {"--command-timeout", c.commandTimeout},
	} {
		if d.value <= 0 || d.value > maxBudget {
			return fmt.Errorf("%s must be a positive duration of at most %s, got %s", d.name, maxBudget, d.value)
		}
	}
	if c.opts.PollInterval > c.opts.PollBudget {
		return fmt.Errorf("--poll-interval %s is longer than --poll-budget %s", c.opts.PollInterval, c.opts.PollBudget)
	}
	return nil
}

// checkLogFlags: --log-format and --log-level take only the values they
// document (slog's level names).
func (c *config) checkLogFlags() error {
	switch c.logFormat {
	case "auto", "text", "json":
	default:
		return fmt.Errorf("--log-format must be auto, text or json, got %s", pipeline.QuoteInput(c.logFormat))
	}
	switch strings.ToLower(c.logLevel) {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level must be debug, info, warn or error, got %s", pipeline.QuoteInput(c.logLevel))
	}
	return nil
}
