package sim

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path"
	"time"

	"github.com/nixfleet/nixfleet-activate/clock"
	"github.com/nixfleet/nixfleet-activate/events"
	"github.com/nixfleet/nixfleet-activate/fsview"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// Default paths of the simulated host (NixOS's own; the lock file since
// NixOS 23.05).
const (
	DefaultProfile       = "/nix/var/nix/profiles/system"
	DefaultCurrentSystem = "/run/current-system"
	DefaultBootedSystem  = "/run/booted-system"
	DefaultLockPath      = "/run/nixos/switch-to-configuration.lock"
)

// HostConfig configures NewHost. Zero fields take the defaults documented
// on each field.
type HostConfig struct {
	// Clock is the virtual clock the host lives on (default: a new one at
	// clock.Epoch).
	Clock *clock.Virtual
	// NixVersion chooses the phrasing of Nix's signature texts, "2.N"
	// (default DefaultNixVersion, "2.8").
	NixVersion string
	// Substituters and TrustedPublicKeys are the host's nix.conf settings,
	// used when a command passes neither `--option substituters` nor
	// NIX_CONFIG. Substituters are tried in order.
	Substituters      []string
	TrustedPublicKeys []string
	// Profile is the system profile (default DefaultProfile); its
	// generation links live beside it.
	Profile string
	// LockPath is the switch lock file (default DefaultLockPath).
	LockPath string
	// Costs is the virtual time each program takes, by program base name
	// ("nix-store", "nix-env", "systemd-run", "systemctl") and LockProbeArgv0
	// for the lock probe; absent programs take no time. ObservedCosts gives
	// the figures of REAL-TOOLS.md.
	Costs map[string]time.Duration
}

// ObservedCosts returns the typical durations REAL-TOOLS.md records: realise
// of a small closure 100-180 ms (150 ms), nix-env --set 70-110 ms (90 ms),
// systemd-run 20-50 ms (35 ms). systemctl and the lock probe were not
// timed there and are left out (no time).
func ObservedCosts() map[string]time.Duration {
	return map[string]time.Duration{
		"nix-store":   150 * time.Millisecond,
		"nix-env":     90 * time.Millisecond,
		"systemd-run": 35 * time.Millisecond,
	}
}

// LogEntry is one command the host was asked to run, in the order asked.
type LogEntry struct {
	// At is the virtual time since the host was created when the command
	// started.
	At time.Duration
	// Argv is the command line as given (Argv[0] as passed, not resolved).
	Argv []string
	// ExitCode is the exit status the command returned. It is -1 when the
	// command returned no status (Err).
	ExitCode int
	// Err is the error Run returned, when it returned one ("" otherwise).
	Err string
}

// ErrNotEmulated is returned by Run for a command line of a known program
// that the simulator does not emulate (an operation or verb the real
// backend never issues).
var ErrNotEmulated = errors.New("sim: command not emulated")

// Host is the simulated NixOS host. Build it with NewHost; it is not safe
// for concurrent use.
type Host struct {
	cfg    HostConfig
	clk    *clock.Virtual
	start  time.Time
	fs     *fsview.View
	phrase Phrasing

	valid       map[string]bool     // basenames valid in the local store
	closures    map[string]*closure // known closures by basename
	cacheFaults map[string]int      // substituter URL -> 0 unreachable, or nix-cache-info's HTTP status
	genTimes    map[string]time.Time
	bootDefault string

	units   map[string]*unit // loaded units by full name ("x.service")
	runs    []*UnitRun
	nextPID int
	nextRun int

	lock   lockModel
	faults []*fault
	// extraCost is virtual time the running command spends beyond its
	// configured cost (substituter retries).
	extraCost time.Duration
	log       []LogEntry
	// boots counts the host's boots (NewHost is the first); it makes each
	// boot ID.
	boots int
	// agentLocks are the agent lock files held, by path (agentlock.go).
	agentLocks map[string]bool
	// agentLockWatch are the agent locks' watches and injected watch
	// failures (agentlockwatch.go).
	agentLockWatch agentLockWatches
	// failedUnits are units other than transient ones that an activation
	// failed to start (SwitchBehaviour.FailedUnits).
	failedUnits []string
	// health is the check units' output and the system state (health.go).
	health healthModel
	// events delivers changes to watchers, nil until Events (events.go).
	events *events.Mem
}

// NewHost returns a host with an empty store, the store, profile and /run
// directories created, a free switch lock (its file present), no profile
// generations and no /run/current-system. Errors: a bad NixVersion.
func NewHost(cfg HostConfig) (*Host, error) {
	if cfg.NixVersion == "" {
		cfg.NixVersion = DefaultNixVersion
	}
	phrase, err := NixPhrasing(cfg.NixVersion)
	if err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.NewVirtual(time.Time{})
	}
	cfg.Profile = orDefault(cfg.Profile, DefaultProfile)
	cfg.LockPath = orDefault(cfg.LockPath, DefaultLockPath)
	h := &Host{
		cfg: cfg, clk: cfg.Clock, start: cfg.Clock.Steady(), fs: fsview.NewMem(), phrase: phrase,
		valid: map[string]bool{}, closures: map[string]*closure{}, cacheFaults: map[string]int{},
		genTimes: map[string]time.Time{}, units: map[string]*unit{}, nextPID: 1000, lock: lockModel{state: LockFree},
	}
	for _, dir := range []string{StoreDir, path.Dir(cfg.Profile), "/run", path.Dir(cfg.LockPath)} {
		if err := h.fs.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("sim: creating %s: %w", dir, err)
		}
	}
	if err := h.fs.WriteFile(cfg.LockPath, nil, 0o644); err != nil {
		return nil, fmt.Errorf("sim: creating %s: %w", cfg.LockPath, err)
	}
	if err := h.newBootID(); err != nil {
		return nil, err
	}
	return h, nil
}

// MustNewHost is NewHost that panics on error, for tests (this package's
// and the real backend's fidelity tests).
func MustNewHost(cfg HostConfig) *Host {
	h, err := NewHost(cfg)
	if err != nil {
		panic(err)
	}
	return h
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Clock returns the host's virtual clock.
func (h *Host) Clock() *clock.Virtual { return h.clk }

// FS returns the host's filesystem view (in memory; anyone may re-point its
// links, as on a real host).
func (h *Host) FS() *fsview.View { return h.fs }

// Elapsed returns the virtual time since the host was created, on the
// steady timeline (wall clock steps do not change it).
func (h *Host) Elapsed() time.Duration { return h.clk.Steady().Sub(h.start) }

// Phrasing returns the phrasing of the host's Nix version.
func (h *Host) Phrasing() Phrasing { return h.phrase }

// Config returns the host's configuration with defaults filled in.
func (h *Host) Config() HostConfig { return h.cfg }

// Log returns a copy of the ordered command log.
func (h *Host) Log() []LogEntry {
	out := make([]LogEntry, len(h.log))
	for i, e := range h.log {
		e.Argv = append([]string(nil), e.Argv...)
		out[i] = e
	}
	return out
}

// Run implements proc.Runner: it answers cmd as the emulated tool would and
// appends it to the log. The program is chosen by the base name of
// Argv[0]; any other program is not found, as exec reports it (an error
// wrapping exec.ErrNotFound; logged with exit 127, a shell's "command not
// found"). Each command takes its configured cost in virtual time after its
// effects, so scheduled events may run during it. Errors: ErrNotEmulated for unsupported operations, ctx's error when ctx
// has ended (nothing runs), exec.ErrNotFound (wrapped).
func (h *Host) Run(ctx context.Context, cmd proc.Cmd) (proc.Result, error) {
	entry := LogEntry{At: h.Elapsed(), Argv: append([]string(nil), cmd.Argv...), ExitCode: -1}
	res, err := h.run(ctx, cmd)
	switch {
	case errors.Is(err, exec.ErrNotFound):
		entry.ExitCode = 127
	case err == nil:
		entry.ExitCode = res.ExitCode
	}
	if err != nil {
		entry.Err = err.Error()
	}
	h.log = append(h.log, entry)
	if err == nil {
		h.clk.Advance(h.cost(cmd.Argv) + h.extraCost)
	}
	h.extraCost = 0
	return res, err
}

func (h *Host) run(ctx context.Context, cmd proc.Cmd) (proc.Result, error) {
	if len(cmd.Argv) == 0 {
		return proc.Result{}, errors.New("proc: empty argv")
	}
	if err := ctx.Err(); err != nil {
		return proc.Result{}, fmt.Errorf("proc: %s: %w", cmd.Argv[0], err)
	}
	if f := h.takeFault(cmd.Argv); f != nil {
		if f.Hang {
			return proc.Result{}, h.hang(ctx, cmd.Argv)
		}
		h.extraCost += f.Duration
		return f.result(), nil
	}
	tool := h.tool(programName(cmd.Argv[0]))
	if tool == nil {
		return proc.Result{}, fmt.Errorf("proc: %s: %w", cmd.Argv[0],
			&exec.Error{Name: cmd.Argv[0], Err: exec.ErrNotFound})
	}
	return tool(cmd)
}

// tool is the emulation of a program base name, nil for any other.
func (h *Host) tool(name string) func(proc.Cmd) (proc.Result, error) {
	switch name {
	case "nix-store":
		return h.nixStore
	case "nix-env":
		return h.nixEnv
	case "systemd-run":
		return h.systemdRun
	case "systemctl":
		return h.systemctl
	case "journalctl":
		return h.journalctl
	}
	return nil
}

func (h *Host) cost(argv []string) time.Duration {
	if len(argv) == 0 {
		return 0
	}
	return h.cfg.Costs[programName(argv[0])]
}

// programName is the base name of argv[0] ("/run/current-system/sw/bin/
// nix-env" runs nix-env).
func programName(argv0 string) string { return path.Base(argv0) }

// result builds a proc.Result from texts; a non-empty stdout or stderr
// gets a final newline, as the tools print whole lines.
func result(exit int, stdout, stderr string) proc.Result {
	return proc.Result{ExitCode: exit, Stdout: lines(stdout), Stderr: lines(stderr)}
}

func lines(s string) []byte {
	if s == "" {
		return nil
	}
	if s[len(s)-1] != '\n' {
		s += "\n"
	}
	return []byte(s)
}
