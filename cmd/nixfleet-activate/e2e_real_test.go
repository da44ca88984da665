package main

// The production binary end to end against real Nix 2.8 (Debian nix-bin) and
// systemd 252 as PID 1 of a systemd-nspawn container (backends/real/realtest):
// the binary is built once without -race, bound into the container and run
// there through nsenter with --root / and every path pointing into a test
// root, so its nix-store, nix-env, systemd-run and systemctl are the real
// ones. These tests skip when the tools are missing, and fail instead under
// CI=true or NIXFLEET_REQUIRE_REAL=1 (realtest.Strict).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/backends/real/realtest"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// Unit names the binary is told to use; fresh per container, so the state a
// step leaves is the state the next one sees.
const (
	e2eSwitchUnit   = "nixfleet-e2e-switch"
	e2eRollbackUnit = "nixfleet-e2e-rollback"
)

// buildBinary builds this command without -race (a static CGO_ENABLED=0
// binary, so it runs in the container whatever its libc) into a directory
// under dir and returns its path.
func buildBinary(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin", "nixfleet-activate")
	// Built as nix/package.nix builds it (buildGoModule: -trimpath, -s -w,
	// no cgo), so the figures are the shipped binary's.
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// buildClosure builds a realtest closure and deletes it from the store on
// cleanup (with the shared component paths no other valid closure needs).
func buildClosure(t testing.TB, opts realtest.ClosureOpts) string {
	t.Helper()
	path := realtest.BuildClosure(t, opts)
	t.Cleanup(func() { realtest.DeleteFromStore(t, path) })
	return path
}

// e2eVariant gives each run fresh store paths, so parallel runs never delete
// each other's closures.
func e2eVariant(t testing.TB, suffix string) string {
	return strings.ReplaceAll(t.Name(), "/", "-") + "-" + strconv.Itoa(os.Getpid()) + "-" +
		strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + suffix
}

// host is one test root inside a booted container, with the binary bound in.
type host struct {
	nix   *realtest.Nix
	box   *realtest.Container
	bin   string
	root  string // the test root standing for "/" of the host under test
	cache *realtest.Cache
	// units reads unit state inside the container; gens lists generations
	// on this machine (the profile is on a directory bound at the same path).
	units, gens *real.Backend
	// recordings is where --record writes (transcripts_real_test.go).
	recordings
}

func (h *host) path(rel string) string { return filepath.Join(h.root, rel) }

func (h *host) profile() string       { return h.path("profiles/system") }
func (h *host) currentSystem() string { return h.path("run/current-system") }
func (h *host) lockFile() string      { return h.path("run/nixos/switch-to-configuration.lock") }
func (h *host) stateDir() string      { return h.path("var/lib/nixfleet-activate") }

// recordFile is where pipeline.FileJournal keeps the in-flight record.
func (h *host) recordFile() string { return filepath.Join(h.stateDir(), "in-flight.json") }

// flags are the per-path flags pointing into the test root, the cache and
// short polls; later flags override earlier ones.
func (h *host) flags(trustedKey string) []string {
	return []string{"--root", "/",
		"--profile", h.profile(),
		"--current-system", h.currentSystem(),
		"--booted-system", h.path("run/booted-system"),
		"--lock", h.lockFile(),
		"--state-dir", h.stateDir(),
		"--agent-lock", h.path("run/nixfleet-activate.lock"),
		"--substituters", h.cache.URL(),
		"--trusted-public-keys", trustedKey,
		"--switch-unit", e2eSwitchUnit,
		"--rollback-unit", e2eRollbackUnit,
		"--poll-interval", "100ms",
		"--poll-budget", "5s",
		"--log-format", "json",
		"--log-level", "debug",
	}
}

// argv is the binary's command line: h.flags, then args.
func (h *host) argv(trustedKey string, args ...string) []string {
	return append(append(append([]string{h.bin}, h.flags(trustedKey)...), h.recordArgs(args)...), args...)
}

// run runs the binary inside the container with args after h.flags.
func (h *host) run(t testing.TB, trustedKey string, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stdout, stderr, exit, err := h.box.Exec(ctx, h.argv(trustedKey, args...)...)
	require.NoError(t, err, "running the binary: %s", stderr)
	return stdout, stderr, exit
}

// outcome runs the binary, decodes its one JSON object and requires its
// kind to be want (see decodeOutcome). Every outcome it is used for is
// final, so it also checks that no in-flight record is left.
func (h *host) outcome(t *testing.T, want pipeline.Kind, trustedKey string, args ...string) (pipeline.Outcome, int) {
	t.Helper()
	stdout, stderr, exit := h.run(t, trustedKey, args...)
	t.Logf("%s -> exit %d: %s", strings.Join(args, " "), exit, strings.TrimSpace(stdout))
	out := decodeOutcome(t, want, stdout, stderr)
	assert.Nil(t, h.record(t), "a final outcome leaves no in-flight record")
	return out, exit
}

// decodeOutcome decodes the binary's one JSON object and requires its kind
// to be want; on any other kind the failure shows the whole outcome and the
// binary's log.
func decodeOutcome(t *testing.T, want pipeline.Kind, stdout, stderr string) pipeline.Outcome {
	t.Helper()
	var out pipeline.Outcome
	require.NoError(t, json.Unmarshal([]byte(stdout), &out), "stdout %q\nstderr:\n%s", stdout, stderr)
	require.Equal(t, want, out.Kind, "outcome %s\nlog:\n%s", stdout, stderr)
	return out
}

// start runs the binary in the background inside the container, so a test
// can signal it mid-run.
func (h *host) start(t testing.TB, trustedKey string, args ...string) *realtest.Process {
	t.Helper()
	return h.box.Start(t, h.argv(trustedKey, args...)...)
}

// wait waits for a background run of the binary to end.
func (h *host) wait(t testing.TB, p *realtest.Process) realtest.ProcessExit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ended, err := p.Wait(ctx)
	require.NoError(t, err)
	t.Logf("background run -> exit %d, signal %v: %s", ended.Code, ended.Signal, strings.TrimSpace(ended.Stdout))
	return ended
}

// waitFor polls cond every 20 ms until it holds, failing t after a minute
// or, when p is not nil, once p has ended (its log is shown).
func waitFor(t testing.TB, p *realtest.Process, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if p != nil {
			select {
			case <-p.Done():
				_, stderr := p.Output()
				t.Fatalf("the binary ended before %s\nlog:\n%s", what, stderr)
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within a minute", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readRecord decodes the in-flight record file (nil when there is none).
func (h *host) readRecord() (*pipeline.Record, error) {
	data, err := os.ReadFile(h.recordFile())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec pipeline.Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", data, err)
	}
	return &rec, nil
}

func (h *host) record(t testing.TB) *pipeline.Record {
	t.Helper()
	rec, err := h.readRecord()
	require.NoError(t, err)
	return rec
}

// waitRecord waits until the in-flight record of p's run shows closure at
// step and returns it.
func (h *host) waitRecord(t testing.TB, p *realtest.Process, closure string, step pipeline.Step) pipeline.Record {
	t.Helper()
	var rec *pipeline.Record
	waitFor(t, p, "an in-flight record at step "+string(step), func() bool {
		rec, _ = h.readRecord()
		return rec != nil && rec.Closure == filepath.Base(closure) && rec.Step == step
	})
	return *rec
}

// waitLog waits until p has logged a message msg (the JSON log's "msg").
// GOTCHA: log messages are no contract; a step that syncs on one fails here,
// naming the message, when it is reworded.
func waitLog(t testing.TB, p *realtest.Process, msg string) {
	t.Helper()
	quoted, _ := json.Marshal(msg)
	waitFor(t, p, "the log line "+string(quoted), func() bool {
		_, stderr := p.Output()
		return strings.Contains(stderr, `"msg":`+string(quoted))
	})
}

// waitLanded waits until current-system is closure and the switch unit's
// main process has ended.
func (h *host) waitLanded(t testing.TB, closure string) {
	t.Helper()
	waitFor(t, nil, "switch to "+filepath.Base(closure)+" landing", func() bool {
		st, err := h.units.UnitStatus(context.Background(), e2eSwitchUnit)
		return h.link("run/current-system") == closure && err == nil && st.State != pipeline.UnitRunning
	})
}

// link resolves a link of the test root to its store path ("" if none).
func (h *host) link(rel string) string {
	target, err := filepath.EvalSymlinks(h.path(rel))
	if err != nil {
		return ""
	}
	return target
}

// generations returns the profile's generation numbers and the current one.
func (h *host) generations(t testing.TB) (numbers []int, current int) {
	t.Helper()
	gens, err := h.gens.ListGenerations(context.Background(), h.profile())
	require.NoError(t, err)
	for _, g := range gens {
		numbers = append(numbers, g.Number)
		if g.Current {
			current = g.Number
		}
	}
	return numbers, current
}

func (h *host) unit(t testing.TB, name string) pipeline.UnitStatus {
	t.Helper()
	st, err := h.units.UnitStatus(context.Background(), name)
	require.NoError(t, err)
	return st
}

// countLine counts the lines of lines equal to line.
func countLine(lines []string, line string) int {
	n := 0
	for _, l := range lines {
		if l == line {
			n++
		}
	}
	return n
}

// switchLog returns the "<action> <closure>" lines every
// switch-to-configuration run appended.
func (h *host) switchLog(t testing.TB) []string {
	data, err := os.ReadFile(h.path(realtest.SwitchLog))
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

func (h *host) valid(t testing.TB, storePath string) bool {
	return h.nix.Run(t, "nix-store", "--check-validity", storePath).ExitCode == 0
}

// bootHost builds the binary, boots a container with dir bound in and makes
// dir/root a host running `running` (current and booted system, profile
// generation 1). The cache is fresh and empty, and visible in the container
// (ContainerOpts.Caches).
func bootHost(t testing.TB, n *realtest.Nix, dir, running string) *host {
	t.Helper()
	h := &host{nix: n, bin: buildBinary(t, dir), root: filepath.Join(dir, "root"), cache: realtest.NewCache(t)}
	h.startRecording(t, dir)
	require.NoError(t, os.MkdirAll(h.path("run"), 0o755))
	require.NoError(t, os.MkdirAll(h.path("profiles"), 0o755))
	require.NoError(t, os.Symlink(running, h.currentSystem()))
	require.NoError(t, os.Symlink(running, h.path("run/booted-system")))
	n.MustRun(t, "nix-env", "--profile", h.profile(), "--set", running)
	h.box = realtest.StartContainer(t, realtest.ContainerOpts{Binds: []string{dir}, Caches: []*realtest.Cache{h.cache}})
	h.units = real.New(real.Config{Runner: h.box.Runner()})
	h.gens = real.New(real.Config{Runner: n.Runner()})
	return h
}

func intp(v int) *int { return &v }

// closureBuilder returns a builder of test closures under the test root
// root, each a distinct variant named by its suffix.
func closureBuilder(t *testing.T, root string) func(suffix string, opts realtest.ClosureOpts) string {
	return func(suffix string, opts realtest.ClosureOpts) string {
		opts.Variant, opts.TestRoot = e2eVariant(t, suffix), root
		return buildClosure(t, opts)
	}
}

// TestBinaryRealEndToEnd runs the binary through the life of one host, each
// step starting from the state the previous one left: lock held, wrong key,
// path in no cache, a clean activation from the cache, a switch exiting 4, a
// rollback, a switch that never flips, a failed unit name reused, status, a
// kernel change deferred to the next boot, and crash recovery: SIGKILL
// mid-poll then recover, SIGTERM mid-poll then the next activate (itself
// interrupted once while it recovers).
func TestBinaryRealEndToEnd(t *testing.T) {
	n := realtest.RequireNix(t)
	realtest.RequireContainer(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	closure := closureBuilder(t, root)
	gate := func(suffix string) string { return filepath.Join(root, "gates", suffix) }
	a := closure("a", realtest.ClosureOpts{})
	b := closure("b", realtest.ClosureOpts{})
	// GOTCHA: a switch that exits non-zero within milliseconds races
	// systemd 252's exec job: under load `systemd-run --service-type=exec`
	// then fails ("Job for U.service failed because the control process
	// exited with error code", exit 1; 7 of 40 starts with the CPUs busy)
	// and the binary reports switch-failed at systemd-run-fire. A real
	// switch-to-configuration runs for seconds; these live 200 ms.
	c := closure("c-exit4", realtest.ClosureOpts{ExitCode: 4, FlipDelay: 200 * time.Millisecond})
	d := closure("d-noflip-exit3", realtest.ClosureOpts{NeverFlip: true, ExitCode: 3, FlipDelay: 200 * time.Millisecond})
	k := closure("k-kernel", realtest.ClosureOpts{KernelVersion: "6.6.1"})
	// Held at their gates until the test opens them: the binary is killed
	// while the switch is certainly running (no timing involved).
	e := closure("e-gated-exit4", realtest.ClosureOpts{ExitCode: 4, FlipGate: gate("e")})
	f := closure("f-gated", realtest.ClosureOpts{FlipGate: gate("f")})
	g := closure("g", realtest.ClosureOpts{})
	h := bootHost(t, n, dir, a)
	// The closures of steps that test substitution, or that a skipped run
	// must not have realised, come only from the cache; the others stay
	// valid (realise exits 0 at once), which spares a second per closure.
	for _, p := range []string{b, c, d, g} {
		h.cache.Publish(t, p)
		realtest.DeleteFromStore(t, p)
	}
	key := h.cache.PublicKey()
	base := filepath.Base

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"lock held exclusively: skipped, nothing runs", func(t *testing.T) {
			release := holdLock(t, h.lockFile())
			defer release()
			out, exit := h.outcome(t, pipeline.Skipped, key, "activate", b)
			assert.Equal(t, ExitSkipped, exit)
			assert.Equal(t, pipeline.PhaseLockProbe, out.Phase)
			assert.False(t, h.valid(t, b), "not realised")
			assertUntouched(t, h, a, []int{1})
		}},
		{"wrong key: signature-mismatch, profile unchanged, no unit fired", func(t *testing.T) {
			out, exit := h.outcome(t, pipeline.SignatureMismatch, realtest.WrongPublicKey(t), "activate", b)
			assert.Equal(t, ExitSignatureMismatch, exit)
			assert.Equal(t, pipeline.PhaseRealise, out.Phase)
			assert.Equal(t, pipeline.RealiseUntrusted, out.Failure)
			assert.Nil(t, out.ExitCode, "exit_code is switch-to-configuration's only")
			require.NotNil(t, out.Command)
			assert.Equal(t, pipeline.KnownExit(1), out.Command.ExitCode, "nix-store's exit status")
			assert.False(t, out.Command.Retryable)
			assert.Contains(t, out.Command.StderrTail, "is not signed by any of the keys in 'trusted-public-keys'")
			assert.False(t, h.valid(t, b))
			assertUntouched(t, h, a, []int{1})
		}},
		{"path in no cache: realise-failed", func(t *testing.T) {
			missing := "/nix/store/00000000000000000000000000000000-nixos-system-testhost-24.05"
			out, exit := h.outcome(t, pipeline.RealiseFailed, key, "activate", missing)
			assert.Equal(t, ExitRealiseFailed, exit)
			assert.Equal(t, pipeline.PhaseRealise, out.Phase)
			assert.Equal(t, pipeline.RealiseNotFound, out.Failure)
			require.NotNil(t, out.Command)
			assert.True(t, out.Command.Retryable, "a closure no cache has yet may be uploaded later")
			assert.Contains(t, out.Command.StderrTail, "don't know how to build these paths")
			assertUntouched(t, h, a, []int{1})
		}},
		{"success: realised from the cache, generation added, switch fired, link settled", func(t *testing.T) {
			out, exit := h.outcome(t, pipeline.Settled, key, "activate", base(b))
			assert.Equal(t, ExitSuccess, exit)
			assert.Equal(t, base(b), out.Closure)
			assert.Equal(t, base(a), out.Previous)
			assert.Equal(t, 2, out.Generation)
			assert.False(t, out.RebootPending, "same kernel as the booted system")
			assert.False(t, out.ProfileCorrected)
			require.NotNil(t, out.Switch)
			assert.Equal(t, pipeline.SwitchReport{Unit: e2eSwitchUnit, State: pipeline.UnitExited, Result: "success",
				ExitCode: pipeline.KnownExit(0)}, *out.Switch)
			assert.True(t, h.valid(t, b), "substituted from the only cache")
			assert.Equal(t, b, h.link("run/current-system"))
			assert.Equal(t, b, h.link("profiles/system"), "profile verified")
			gens, current := h.generations(t)
			assert.Equal(t, []int{1, 2}, gens)
			assert.Equal(t, 2, current)
			assert.Equal(t, []string{"switch " + b}, h.switchLog(t))
		}},
		{"switch exits 4: settled-degraded with the true status", func(t *testing.T) {
			out, exit := h.outcome(t, pipeline.SettledDegraded, key, "activate", c)
			assert.Equal(t, ExitDegraded, exit)
			assert.Equal(t, 3, out.Generation)
			require.NotNil(t, out.Switch)
			assert.Equal(t, pipeline.KnownExit(4), out.Switch.ExitCode)
			assert.Equal(t, "exit-code", out.Switch.Result)
			assert.Equal(t, c, h.link("run/current-system"))
			assert.Equal(t, pipeline.UnitStatus{State: pipeline.UnitExited, Result: "exit-code", ExitCode: intp(4)},
				h.unit(t, e2eSwitchUnit), "the unit stays failed with its status")
		}},
		{"rollback: previous generation, its own switch in the rollback unit", func(t *testing.T) {
			out, exit := h.outcome(t, pipeline.RollbackSucceeded, key, "rollback")
			assert.Equal(t, ExitSuccess, exit)
			assert.Equal(t, base(b), out.Closure)
			assert.Equal(t, base(c), out.Previous)
			assert.Equal(t, 2, out.Generation)
			require.NotNil(t, out.Switch)
			assert.Equal(t, e2eRollbackUnit, out.Switch.Unit)
			assert.Equal(t, pipeline.KnownExit(0), out.Switch.ExitCode)
			assert.Equal(t, b, h.link("run/current-system"))
			gens, current := h.generations(t)
			assert.Equal(t, []int{1, 2, 3}, gens, "rollback keeps every generation")
			assert.Equal(t, 2, current)
			log := h.switchLog(t)
			assert.Equal(t, "switch "+b, log[len(log)-1], "the rolled-back closure's own switch-to-configuration ran")
			assert.Equal(t, pipeline.UnitStatus{State: pipeline.UnitExited, Result: "exit-code", ExitCode: intp(4)},
				h.unit(t, e2eSwitchUnit), "the switch unit is left alone")
		}},
		{"switch never flips and exits 3: decided at its exit with the true status, profile and boot default restored", func(t *testing.T) {
			out, exit := h.outcome(t, pipeline.SwitchFailed, key, "--poll-budget", "2s", "activate", d)
			assert.Equal(t, ExitSwitchFailed, exit)
			assert.Equal(t, pipeline.PhaseSwitchExit, out.Phase, "issue 9: the ended unit is decided, not left to the budget")
			assert.Equal(t, pipeline.KnownExit(3), out.ExitCode, "never 0, never null: the unit's ExecMainStatus")
			require.NotNil(t, out.Switch)
			assert.Equal(t, pipeline.KnownExit(3), out.Switch.ExitCode)
			assert.Equal(t, base(b), out.LastObserved)
			assert.Equal(t, b, h.link("run/current-system"), "the link never moved")
			// Deliberate change (issue 9): failure restores profile and boot default.
			assert.Equal(t, 2, out.Generation, "the profile is back on its starting generation")
			assert.Equal(t, b, h.link("profiles/system"))
			require.NotNil(t, out.Restored)
			assert.Equal(t, pipeline.RestoreDone, out.Restored.Status)
			assert.Equal(t, pipeline.BootRestored, out.Restored.Boot)
			assert.Equal(t, 2, out.Restored.Generation)
			require.NotNil(t, out.Restored.BootSwitch)
			assert.Equal(t, pipeline.KnownExit(0), out.Restored.BootSwitch.ExitCode)
			t.Logf("restore took %d ms (nix-env --switch-generation, b's boot action, one poll)", out.Restored.ElapsedMS)
			gens, current := h.generations(t)
			assert.Equal(t, []int{1, 2, 3, 4}, gens, "no generation deleted")
			assert.Equal(t, 2, current)
			log := h.switchLog(t)
			require.GreaterOrEqual(t, len(log), 2)
			assert.Equal(t, []string{"switch " + d, "boot " + b}, log[len(log)-2:], "b's own boot action restored the boot default")
		}},
		{"a unit name left failed is reused", func(t *testing.T) {
			require.Equal(t, pipeline.UnitStatus{State: pipeline.UnitExited, Result: "exit-code", ExitCode: intp(3)},
				h.unit(t, e2eSwitchUnit), "precondition: left failed by the previous run")
			out, exit := h.outcome(t, pipeline.Settled, key, "activate", a)
			assert.Equal(t, ExitSuccess, exit)
			assert.Equal(t, 5, out.Generation, "Nix 2.8: a path other than the highest generation's gets max+1")
			assert.Equal(t, a, h.link("run/current-system"))
			assert.Equal(t, pipeline.UnitStatus{State: pipeline.UnitExited, Result: "success", ExitCode: intp(0)},
				h.unit(t, e2eSwitchUnit))
		}},
		{"already-current: nothing set, nothing fired, exit 0", func(t *testing.T) {
			before := h.switchLog(t)
			out, exit := h.outcome(t, pipeline.AlreadyCurrent, key, "activate", a)
			assert.Equal(t, ExitSuccess, exit)
			assert.Equal(t, pipeline.PhaseCurrentCheck, out.Phase)
			assert.Equal(t, 5, out.Generation)
			gens, current := h.generations(t)
			assert.Equal(t, []int{1, 2, 3, 4, 5}, gens, "no generation added")
			assert.Equal(t, 5, current)
			assert.Equal(t, before, h.switchLog(t), "no switch-to-configuration ran")
		}},
		{"status reports links, generations, lock and units", func(t *testing.T) {
			stdout, stderr, exit := h.run(t, key, "status")
			require.Equal(t, ExitSuccess, exit, stderr)
			var st hostStatus
			require.NoError(t, json.Unmarshal([]byte(stdout), &st), stdout)
			assert.Equal(t, base(a), st.CurrentSystem)
			assert.Equal(t, base(a), st.BootedSystem)
			assert.Equal(t, h.profile(), st.Profile.Path)
			assert.Equal(t, base(a), st.Profile.Closure)
			var numbers []int
			for _, g := range st.Profile.Generations {
				numbers = append(numbers, g.Number)
				assert.Equal(t, g.Number == 5, g.Current, "generation %d", g.Number)
				_, err := time.Parse(time.RFC3339, g.Created) // RFC 3339 with the zone (issue 12)
				assert.NoError(t, err)
			}
			assert.Equal(t, []int{1, 2, 3, 4, 5}, numbers)
			assert.Equal(t, "free", st.Lock)
			assert.Equal(t, map[string]pipeline.SwitchReport{
				e2eSwitchUnit:   {Unit: e2eSwitchUnit, State: pipeline.UnitExited, Result: "success", ExitCode: pipeline.KnownExit(0)},
				e2eRollbackUnit: {Unit: e2eRollbackUnit, State: pipeline.UnitExited, Result: "success", ExitCode: pipeline.KnownExit(0)},
			}, st.Units)
			assert.Empty(t, st.Errors)
		}},
		{"kernel change: deferred to the next boot with switch-to-configuration boot, the link stays", func(t *testing.T) {
			out, exit := h.outcome(t, pipeline.DeferredPendingReboot, key, "activate", k)
			assert.Equal(t, ExitDeferred, exit)
			assert.Equal(t, pipeline.PhaseDeferBootloader, out.Phase)
			assert.Equal(t, []string{"kernel", "initrd"}, out.Components, "systemd and dbus are shared paths")
			assert.True(t, out.RebootPending)
			assert.Equal(t, base(k), out.Closure)
			assert.Equal(t, base(a), out.Previous)
			assert.Equal(t, 6, out.Generation)
			require.NotNil(t, out.Switch)
			assert.Equal(t, pipeline.KnownExit(0), out.Switch.ExitCode)
			assert.Equal(t, a, h.link("run/current-system"), "the running system is untouched")
			assert.Equal(t, k, h.link("profiles/system"), "the new generation is the boot default")
			log := h.switchLog(t)
			assert.Equal(t, "boot "+k, log[len(log)-1])
			assert.Equal(t, 0, countLine(log, "switch "+k), "never switched live")
		}},
		{"SIGKILL mid-poll: the unit lands on its own, recover reports it once", func(t *testing.T) {
			run := h.start(t, key, "--poll-budget", "2m", "activate", e)
			rec := h.waitRecord(t, run, e, pipeline.StepFired)
			assert.Equal(t, pipeline.OpActivate, rec.Op)
			assert.Equal(t, e2eSwitchUnit, rec.Unit)
			assert.Equal(t, pipeline.ActionSwitch, rec.Action)
			assert.Equal(t, base(a), rec.Previous)
			assert.Equal(t, 7, rec.Generation)
			require.NoError(t, run.Signal(syscall.SIGKILL))
			ended := h.wait(t, run)
			assert.Equal(t, syscall.SIGKILL, ended.Signal)
			assert.Empty(t, ended.Stdout, "killed: no outcome")
			assert.Equal(t, &rec, h.record(t), "the record stays as the killed run left it")
			assert.Equal(t, pipeline.UnitRunning, h.unit(t, e2eSwitchUnit).State, "the detached switch outlives the binary")
			assert.Equal(t, a, h.link("run/current-system"), "held at its gate")

			realtest.OpenGate(t, gate("e"))
			h.waitLanded(t, e)
			assert.Equal(t, pipeline.UnitStatus{State: pipeline.UnitExited, Result: "exit-code", ExitCode: intp(4)},
				h.unit(t, e2eSwitchUnit))
			out, exit := h.outcome(t, pipeline.SettledDegraded, key, "recover")
			assert.Equal(t, ExitDegraded, exit)
			assert.True(t, out.Recovered)
			assert.Equal(t, base(e), out.Closure)
			assert.Equal(t, base(a), out.Previous)
			assert.Equal(t, 7, out.Generation)
			require.NotNil(t, out.Switch)
			assert.Equal(t, pipeline.SwitchReport{Unit: e2eSwitchUnit, State: pipeline.UnitExited, Result: "exit-code",
				ExitCode: pipeline.KnownExit(4)}, *out.Switch, "the true exit status, read after the fact")
			assert.Nil(t, out.Earlier)
			assert.Equal(t, e, h.link("run/current-system"))
			assert.Equal(t, 1, countLine(h.switchLog(t), "switch "+e), "fired once, never again by the recovery")

			stdout, stderr, exit := h.run(t, key, "recover")
			assert.Equal(t, ExitSuccess, exit, stderr)
			assert.JSONEq(t, `{"outcome":"nothing-to-recover"}`, stdout)
		}},
		{"SIGTERM mid-poll: interrupted, the record and the unit stay", func(t *testing.T) {
			run := h.start(t, key, "--poll-budget", "2m", "activate", f)
			h.waitRecord(t, run, f, pipeline.StepFired)
			require.NoError(t, run.Signal(syscall.SIGTERM))
			ended := h.wait(t, run)
			assert.Equal(t, ExitInterrupted, ended.Code)
			out := decodeOutcome(t, pipeline.Interrupted, ended.Stdout, ended.Stderr)
			assert.Equal(t, pipeline.PhaseSwitchPoll, out.Phase)
			assert.Equal(t, base(f), out.Closure)
			assert.Equal(t, base(e), out.Previous)
			assert.Equal(t, 8, out.Generation)
			assert.Nil(t, out.Switch, "the switch had not finished")
			rec := h.record(t)
			require.NotNil(t, rec, "kept for the next invocation")
			assert.Equal(t, pipeline.StepFired, rec.Step)
			assert.Equal(t, base(f), rec.Closure)
			assert.Equal(t, base(e), rec.Previous)
			assert.Equal(t, 8, rec.Generation)
			assert.Equal(t, pipeline.UnitRunning, h.unit(t, e2eSwitchUnit).State)
			assert.Equal(t, e, h.link("run/current-system"))
		}},
		// recover.go: every activate first follows an unfinished earlier run
		// to its end within that run's own recorded budget; only a recovery
		// that is itself interrupted (or a record that cannot be read) keeps
		// the record and skips the new run at phase journal.
		{"activate of another closure, stopped while it recovers: skipped at journal, record kept", func(t *testing.T) {
			run := h.start(t, key, "activate", g)
			waitLog(t, run, "recovering an unfinished run")
			require.NoError(t, run.Signal(syscall.SIGTERM))
			ended := h.wait(t, run)
			assert.Equal(t, ExitSkipped, ended.Code)
			out := decodeOutcome(t, pipeline.Skipped, ended.Stdout, ended.Stderr)
			assert.Equal(t, pipeline.PhaseJournal, out.Phase)
			require.NotNil(t, out.Earlier, "the earlier run is reported, not discarded")
			assert.Equal(t, pipeline.Interrupted, out.Earlier.Kind)
			assert.True(t, out.Earlier.Recovered)
			assert.Equal(t, base(f), out.Earlier.Closure)
			rec := h.record(t)
			require.NotNil(t, rec)
			assert.Equal(t, base(f), rec.Closure)
			assert.False(t, h.valid(t, g), "the new run never started: not realised")
			assert.Equal(t, f, h.link("profiles/system"))
			assert.Equal(t, pipeline.UnitRunning, h.unit(t, e2eSwitchUnit).State)
		}},
		{"activate of another closure follows the earlier switch to its end, reports it under earlier, then switches", func(t *testing.T) {
			run := h.start(t, key, "activate", g)
			waitLog(t, run, "recovering an unfinished run")
			assert.Equal(t, e, h.link("run/current-system"), "the earlier switch is still held when recovery starts")
			realtest.OpenGate(t, gate("f"))
			ended := h.wait(t, run)
			assert.Equal(t, ExitSuccess, ended.Code)
			out := decodeOutcome(t, pipeline.Settled, ended.Stdout, ended.Stderr)
			assert.Equal(t, base(g), out.Closure)
			assert.Equal(t, base(f), out.Previous)
			assert.Equal(t, 9, out.Generation)
			require.NotNil(t, out.Earlier)
			assert.Equal(t, pipeline.Settled, out.Earlier.Kind, "%+v", out.Earlier)
			assert.True(t, out.Earlier.Recovered)
			assert.Equal(t, base(f), out.Earlier.Closure)
			assert.Equal(t, base(e), out.Earlier.Previous)
			assert.Equal(t, 8, out.Earlier.Generation)
			require.NotNil(t, out.Earlier.Switch)
			assert.Equal(t, pipeline.KnownExit(0), out.Earlier.Switch.ExitCode)
			assert.Nil(t, h.record(t))
			assert.Equal(t, g, h.link("run/current-system"))
			log := h.switchLog(t)
			assert.Equal(t, 1, countLine(log, "switch "+f), "the earlier switch ran once")
			assert.Equal(t, 1, countLine(log, "switch "+g))
			assert.Equal(t, "switch "+g, log[len(log)-1])
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.Fatalf("step %q failed; the later steps depend on it", s.name)
		}
	}
}

// assertUntouched checks that a refused activation changed nothing: the link
// and the profile still show running, the generations are gens, and no
// switch unit was started.
func assertUntouched(t *testing.T, h *host, running string, gens []int) {
	t.Helper()
	assert.Equal(t, running, h.link("run/current-system"))
	assert.Equal(t, running, h.link("profiles/system"))
	got, _ := h.generations(t)
	assert.Equal(t, gens, got)
	assert.Equal(t, pipeline.UnitStatus{State: pipeline.UnitUnknown}, h.unit(t, e2eSwitchUnit), "no unit fired")
	assert.Empty(t, h.switchLog(t))
	assert.Nil(t, h.record(t), "no in-flight record")
}

// holdLock takes an exclusive flock(2) on path (creating it), as a running
// switch-to-configuration does, and returns its release. The container sees
// the same file through the bind mount, and flock locks are per open file,
// so the binary's probe there is refused.
func holdLock(t *testing.T, path string) (release func()) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	require.NoError(t, err)
	require.NoError(t, unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB))
	return func() { _ = f.Close() }
}
