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
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// nixosShapeExpr rebuilds a realtest closure with the NixOS layout of the two
// critical components realtest makes unique per closure: "systemd" links to a
// shared systemd store path (realtest: $out/sw, inside the closure) and
// etc/systemd/system/dbus.service to a file of a shared dbus store path
// (realtest: a plain file). Everything else, switch-to-configuration
// included, is copied with the closure's own path replaced by the new one.
//
// GOTCHA: with realtest's layout the pipeline sees systemd and dbus change
// between any two closures and defers every activation to the next boot
// (pipeline.CriticalComponents compares canonicalised link targets), so a live
// switch could never be tested. Drop this wrapper once realtest.BuildClosure
// lays the components out this way itself.
const nixosShapeExpr = `
{ base, name, shapeScript, systemdScript, dbusScript }:
let
  component = cname: script: derivation {
    name = cname;
    system = "x86_64-linux";
    builder = "/bin/sh";
    args = [ "-c" script ];
  };
in derivation {
  inherit name;
  system = "x86_64-linux";
  builder = "/bin/sh";
  args = [ "-c" shapeScript ];
  inherit base;
  systemd = component "systemd-252" systemdScript;
  dbus = component "dbus-1.14.10" dbusScript;
}
`

const shapeScript = `set -eu
PATH=/usr/bin:/bin
cp -R "$base" "$out"
chmod -R u+w "$out"
rm "$out/systemd" "$out/etc/systemd/system/dbus.service"
ln -s "$systemd" "$out/systemd"
ln -s "$dbus/share/systemd/system/dbus.service" "$out/etc/systemd/system/dbus.service"
sed -i "s|$base|$out|g" "$out/bin/switch-to-configuration"
`

const systemdScript = `set -eu
PATH=/usr/bin:/bin
mkdir -p "$out/lib/systemd"
printf '#!/bin/sh\nexit 0\n' > "$out/lib/systemd/systemd"
chmod +x "$out/lib/systemd/systemd"
`

const dbusScript = `set -eu
PATH=/usr/bin:/bin
mkdir -p "$out/share/systemd/system"
printf '[Service]\nExecStart=/bin/true\n' > "$out/share/systemd/system/dbus.service"
`

// nixosClosure builds a realtest closure with opts and returns its NixOS-shaped
// copy (see nixosShapeExpr); both are deleted from the store on cleanup.
// GOTCHA: the base closure is passed as a plain string, not through
// builtins.storePath: as an input source of the copy's .drv it would stay
// alive (a valid referrer) and could never be deleted.
func nixosClosure(t testing.TB, n *realtest.Nix, opts realtest.ClosureOpts) string {
	t.Helper()
	base := realtest.BuildClosure(t, opts)
	_, name, _ := strings.Cut(filepath.Base(base), "-")
	shaped := n.MustRun(t, "nix-build", "--no-out-link", "-E", nixosShapeExpr,
		"--argstr", "base", base, "--argstr", "name", name, "--argstr", "shapeScript", shapeScript,
		"--argstr", "systemdScript", systemdScript, "--argstr", "dbusScript", dbusScript)
	t.Cleanup(func() {
		realtest.DeleteFromStore(t, shaped)
		realtest.DeleteFromStore(t, base)
	})
	return shaped
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
}

func (h *host) path(rel string) string { return filepath.Join(h.root, rel) }

func (h *host) profile() string       { return h.path("profiles/system") }
func (h *host) currentSystem() string { return h.path("run/current-system") }
func (h *host) lockFile() string      { return h.path("run/nixos/switch-to-configuration.lock") }

// flags are the per-path flags pointing into the test root, the cache and
// short polls; later flags override earlier ones.
func (h *host) flags(trustedKey string) []string {
	return []string{"--root", "/",
		"--profile", h.profile(),
		"--current-system", h.currentSystem(),
		"--booted-system", h.path("run/booted-system"),
		"--lock", h.lockFile(),
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

// run runs the binary inside the container with args after h.flags.
func (h *host) run(t testing.TB, trustedKey string, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	argv := append(append([]string{h.bin}, h.flags(trustedKey)...), args...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stdout, stderr, exit, err := h.box.Exec(ctx, argv...)
	require.NoError(t, err, "running the binary: %s", stderr)
	return stdout, stderr, exit
}

// outcome runs the binary, decodes its one JSON object and requires its
// kind to be want; on any other kind the failure shows the whole outcome and
// the binary's log.
func (h *host) outcome(t *testing.T, want pipeline.Kind, trustedKey string, args ...string) (pipeline.Outcome, int) {
	t.Helper()
	stdout, stderr, exit := h.run(t, trustedKey, args...)
	var out pipeline.Outcome
	require.NoError(t, json.Unmarshal([]byte(stdout), &out), "stdout %q\nstderr:\n%s", stdout, stderr)
	t.Logf("%s -> exit %d: %s", strings.Join(args, " "), exit, strings.TrimSpace(stdout))
	require.Equal(t, want, out.Kind, "outcome %s\nlog:\n%s", stdout, stderr)
	return out, exit
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
// generation 1). The cache is fresh and empty, and bound in too.
func bootHost(t testing.TB, n *realtest.Nix, dir, running string) *host {
	t.Helper()
	h := &host{nix: n, bin: buildBinary(t, dir), root: filepath.Join(dir, "root"), cache: realtest.NewCache(t)}
	// GOTCHA: the cache lives in its own temporary directory; unbound, Nix
	// inside the container skips the missing directory silently and every
	// realise fails as "don't know how to build", whatever the keys.
	require.NoError(t, os.MkdirAll(h.path("run"), 0o755))
	require.NoError(t, os.MkdirAll(h.path("profiles"), 0o755))
	require.NoError(t, os.Symlink(running, h.currentSystem()))
	require.NoError(t, os.Symlink(running, h.path("run/booted-system")))
	n.MustRun(t, "nix-env", "--profile", h.profile(), "--set", running)
	h.box = realtest.StartContainer(t, realtest.ContainerOpts{Binds: []string{dir, h.cache.Dir()}})
	h.units = real.New(real.Config{Runner: h.box.Runner()})
	h.gens = real.New(real.Config{Runner: n.Runner()})
	return h
}

func intp(v int) *int { return &v }

// TestBinaryRealEndToEnd runs the binary through the life of one host, each
// step starting from the state the previous one left: lock held, wrong key,
// path in no cache, a clean activation from the cache, a switch exiting 4, a
// rollback, a switch that never flips, a failed unit name reused, status.
func TestBinaryRealEndToEnd(t *testing.T) {
	n := realtest.RequireNix(t)
	realtest.RequireContainer(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	closure := func(suffix string, opts realtest.ClosureOpts) string {
		opts.Variant, opts.TestRoot = e2eVariant(t, suffix), root
		return nixosClosure(t, n, opts)
	}
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
	h := bootHost(t, n, dir, a)
	for _, p := range []string{b, c, d} {
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
			assert.Equal(t, pipeline.KnownExit(1), out.ExitCode, "nix-store's exit status")
			assert.Contains(t, out.StderrTail, "is not signed by any of the keys in 'trusted-public-keys'")
			assert.False(t, h.valid(t, b))
			assertUntouched(t, h, a, []int{1})
		}},
		{"path in no cache: realise-failed", func(t *testing.T) {
			missing := "/nix/store/00000000000000000000000000000000-nixos-system-testhost-24.05"
			out, exit := h.outcome(t, pipeline.RealiseFailed, key, "activate", missing)
			assert.Equal(t, ExitRealiseFailed, exit)
			assert.Equal(t, pipeline.PhaseRealise, out.Phase)
			assert.Equal(t, pipeline.RealiseNotFound, out.Failure)
			assert.Contains(t, out.StderrTail, "don't know how to build these paths")
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
		{"switch never flips and exits 3: timeout with the true status", func(t *testing.T) {
			out, exit := h.outcome(t, pipeline.SwitchFailed, key, "--poll-budget", "2s", "activate", d)
			assert.Equal(t, ExitSwitchFailed, exit)
			assert.Equal(t, pipeline.PhaseSwitchPollTimeout, out.Phase)
			assert.Equal(t, pipeline.KnownExit(3), out.ExitCode, "never 0, never null: the unit's ExecMainStatus")
			require.NotNil(t, out.Switch)
			assert.Equal(t, pipeline.KnownExit(3), out.Switch.ExitCode)
			assert.Equal(t, base(b), out.LastObserved)
			assert.Equal(t, 4, out.Generation)
			assert.Equal(t, b, h.link("run/current-system"), "the link never moved")
			assert.Equal(t, d, h.link("profiles/system"), "the profile keeps the set; rolling back is the caller's call")
			log := h.switchLog(t)
			assert.Equal(t, "switch "+d, log[len(log)-1])
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
				_, err := time.ParseInLocation("2006-01-02T15:04:05", g.Created, time.Local)
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
