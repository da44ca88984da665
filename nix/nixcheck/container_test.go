package nixcheck

// The module's units, rendered from its evaluation, run for real: installed
// in the root filesystem of the real suites' systemd-nspawn container
// (Debian bookworm, systemd 252, Nix 2.8; backends/real/realtest) and driven
// with systemctl, with the binary built from this tree as the package and
// realtest's closures, cache and test root as the host. The module's
// options point the binary into the test root (stateDir, extraFlags), as the
// binary's own end-to-end test does with flags.

import (
	"context"
	"encoding/json"
	"fmt"
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

	"github.com/nixfleet/nixfleet-activate/backends/real/realtest"
)

// The binary's switch and rollback unit names in this test.
const (
	ctSwitchUnit   = "nixfleet-modtest-switch"
	ctRollbackUnit = "nixfleet-modtest-rollback"
)

// Exit statuses of cmd/nixfleet-activate (README, "Outcome").
const (
	exitRealiseFailed = 5
	exitDegraded      = 10
)

// unitHost is the test root the units act on, and the container running them.
type unitHost struct {
	dir    string // bound into the container: the package, the test root
	root   string // stands for "/" of the host under test
	rootfs string // the container root filesystem with the units installed
	cache  *realtest.Cache
	box    *realtest.Container
}

func (h *unitHost) path(rel string) string { return filepath.Join(h.root, rel) }

func (h *unitHost) stateDir() string { return h.path("var/lib/nixfleet-activate") }

func (h *unitHost) recordFile() string { return filepath.Join(h.stateDir(), "in-flight.json") }

// moduleConfig is the module configuration under test: the built binary as
// the package, Debian's /usr as Nix and systemd, every path in the test root.
func (h *unitHost) moduleConfig() map[string]any {
	usr := map[string]any{"type": "derivation", "outPath": "/usr"}
	cfg := service(map[string]any{
		"enable":            true,
		"package":           map[string]any{"type": "derivation", "outPath": filepath.Join(h.dir, "pkg")},
		"stateDir":          h.stateDir(),
		"substituters":      []string{h.cache.URL()},
		"trustedPublicKeys": []string{h.cache.PublicKey()},
		"pollInterval":      "100ms",
		"pollBudget":        "5s",
		"logLevel":          "debug",
		"extraFlags": []string{"--root=/",
			"--profile=" + h.path("profiles/system"),
			"--current-system=" + h.path("run/current-system"),
			"--booted-system=" + h.path("run/booted-system"),
			"--lock=" + h.path("run/nixos/switch-to-configuration.lock"),
			"--switch-unit=" + ctSwitchUnit,
			"--rollback-unit=" + ctRollbackUnit,
		},
	})
	cfg["nix"] = map[string]any{"package": usr}
	cfg["systemd"] = map[string]any{"package": usr}
	return cfg
}

// buildBinary builds cmd/nixfleet-activate (static, so it runs in the
// container) to path.
func buildBinary(t testing.TB, path string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", path, "./cmd/nixfleet-activate")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
}

// overlayRootFS mounts an overlay of lower with the units of ev installed on
// top, and returns its mount point (unmounted on cleanup). The container
// writes to its own tmpfs above it (nspawn --volatile=overlay), so every
// boot starts from the same tree.
func overlayRootFS(t testing.TB, lower string, ev evaluation) string {
	t.Helper()
	dir := t.TempDir()
	upper, work, merged := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	for _, d := range []string{upper, work, merged} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}
	installUnits(t, upper, ev)
	opts := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		unavailable(t, "mounting an overlay of %s: %v", lower, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(merged, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", merged, err)
		}
	})
	return merged
}

// boot boots a fresh container from h.rootfs (the previous one, if any,
// halted first: the units' state goes, the test root stays). t must be the
// test the container lives as long as (StartContainer halts it on t's
// cleanup).
func (h *unitHost) boot(t testing.TB) {
	t.Helper()
	if h.box != nil {
		require.NoError(t, h.box.Stop())
	}
	h.box = realtest.StartContainer(t, realtest.ContainerOpts{RootFS: h.rootfs, Binds: []string{h.dir},
		Caches: []*realtest.Cache{h.cache}})
}

// exec runs argv in the container, failing t if it could not run.
func (h *unitHost) exec(t testing.TB, argv ...string) (stdout, stderr string, exit int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stdout, stderr, exit, err := h.box.Exec(ctx, argv...)
	require.NoError(t, err, "%v: %s", argv, stderr)
	return stdout, stderr, exit
}

// mustExec is exec requiring exit 0; it returns stdout without surrounding
// white space.
func (h *unitHost) mustExec(t testing.TB, argv ...string) string {
	t.Helper()
	stdout, stderr, exit := h.exec(t, argv...)
	require.Equal(t, 0, exit, "%v: %s", argv, stderr)
	return strings.TrimSpace(stdout)
}

// instance is the activation unit for a closure, named as the README says:
// nixfleet-activate@$(systemd-escape BASENAME).service.
func (h *unitHost) instance(t testing.TB, closure string) string {
	t.Helper()
	return "nixfleet-activate@" + h.mustExec(t, "systemd-escape", filepath.Base(closure)) + ".service"
}

// show returns one property of a unit (systemctl show -P).
func (h *unitHost) show(t testing.TB, unit, property string) string {
	t.Helper()
	return h.mustExec(t, "systemctl", "show", "-P", property, unit)
}

// state returns a unit's ActiveState/SubState/Result/ExecMainStatus.
func (h *unitHost) state(t testing.TB, unit string) string {
	t.Helper()
	return strings.Join([]string{h.show(t, unit, "ActiveState"), h.show(t, unit, "SubState"),
		h.show(t, unit, "Result"), h.show(t, unit, "ExecMainStatus")}, "/")
}

// outcome returns the last outcome object a unit printed in this boot (from
// the journal: stdout; the log lines on stderr carry "msg").
func (h *unitHost) outcome(t testing.TB, unit string) map[string]any {
	t.Helper()
	h.mustExec(t, "journalctl", "--sync")
	journal := h.mustExec(t, "journalctl", "-b", "-o", "cat", "-u", unit)
	var found map[string]any
	for _, line := range strings.Split(journal, "\n") {
		var obj map[string]any
		if json.Unmarshal([]byte(line), &obj) == nil && obj["outcome"] != nil && obj["msg"] == nil {
			found = obj
		}
	}
	require.NotNil(t, found, "no outcome of %s in the journal:\n%s", unit, journal)
	return found
}

// startFailing starts the instance for closure with systemctl start, which
// must fail, and requires the instance to be failed with exit status
// status and to have printed an outcome of kind.
func (h *unitHost) startFailing(t testing.TB, closure string, status int, kind string) {
	t.Helper()
	unit := h.instance(t, closure)
	_, _, exit := h.exec(t, "systemctl", "start", unit)
	assert.NotEqual(t, 0, exit, "systemctl start reports the failed instance")
	assert.Equal(t, "failed/failed/exit-code/"+strconv.Itoa(status), h.state(t, unit))
	assert.Equal(t, kind, h.outcome(t, unit)["outcome"])
}

// link resolves a link of the test root ("" if none).
func (h *unitHost) link(rel string) string {
	target, err := filepath.EvalSymlinks(h.path(rel))
	if err != nil {
		return ""
	}
	return target
}

// waitUntil polls cond every 20 ms for up to a minute.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within a minute", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestModuleUnitsInContainer drives the module's units in a booted
// container: the recover unit at boot finds nothing; an instance settles a
// closure; a switch exiting 4 and a path in no cache fail the instance with
// exit statuses 10 and 5; an instance killed mid-switch, then a reboot, and
// the recover unit at boot resolves the run; a later activation and the
// start of the active targets (as switch-to-configuration does) leave the
// recover unit alone.
func TestModuleUnitsInContainer(t *testing.T) {
	n := realtest.RequireNix(t)
	lower := realtest.RequireContainer(t)
	h := &unitHost{dir: t.TempDir(), cache: realtest.NewCache(t)}
	h.root = filepath.Join(h.dir, "root")
	buildBinary(t, filepath.Join(h.dir, "pkg", "bin", "nixfleet-activate"))
	closure := func(suffix string, opts realtest.ClosureOpts) string {
		opts.Variant = fmt.Sprintf("modtest-%d-%s-%s", os.Getpid(), strconv.FormatInt(time.Now().UnixNano(), 36), suffix)
		opts.TestRoot = h.root
		path := realtest.BuildClosure(t, opts)
		t.Cleanup(func() { realtest.DeleteFromStore(t, path) })
		return path
	}
	gate := filepath.Join(h.root, "gates", "e")
	a := closure("a", realtest.ClosureOpts{})
	b := closure("b", realtest.ClosureOpts{})
	// GOTCHA: a switch exiting non-zero within milliseconds races systemd
	// 252's exec job (see cmd/nixfleet-activate/e2e_real_test.go).
	c := closure("c-exit4", realtest.ClosureOpts{ExitCode: 4, FlipDelay: 200 * time.Millisecond})
	e := closure("e-gated", realtest.ClosureOpts{FlipGate: gate})
	g := closure("g", realtest.ClosureOpts{})
	for _, p := range []string{b, c, g} {
		h.cache.Publish(t, p)
		realtest.DeleteFromStore(t, p)
	}
	require.NoError(t, os.MkdirAll(h.path("run"), 0o755))
	require.NoError(t, os.MkdirAll(h.path("profiles"), 0o755))
	require.NoError(t, os.Symlink(a, h.path("run/current-system")))
	require.NoError(t, os.Symlink(a, h.path("run/booted-system")))
	n.MustRun(t, "nix-env", "--profile", h.path("profiles/system"), "--set", a)

	ev := mustEval(t, h.moduleConfig())
	h.rootfs = overlayRootFS(t, lower, ev)
	top := t
	h.boot(top)

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"boot: recover ran once, found nothing, stays active; the state directory is 0700", func(t *testing.T) {
			assert.Equal(t, "active/exited/success/0", h.state(t, recoverUnit))
			assert.Equal(t, "nothing-to-recover", h.outcome(t, recoverUnit)["outcome"])
			fi, err := os.Stat(h.stateDir())
			require.NoError(t, err, "made by systemd-tmpfiles at boot")
			assert.Equal(t, os.ModeDir|0o700, fi.Mode())
		}},
		{"systemctl start settles the closure; %I hands over the unescaped basename", func(t *testing.T) {
			unit := h.instance(t, b)
			assert.Contains(t, unit, `\x2d`, "the escaped instance name differs from the basename")
			h.mustExec(t, "systemctl", "start", unit)
			assert.Equal(t, "inactive/dead/success/0", h.state(t, unit))
			out := h.outcome(t, unit)
			assert.Equal(t, "settled", out["outcome"], "%v", out)
			assert.Equal(t, filepath.Base(b), out["closure"])
			assert.Equal(t, b, h.link("run/current-system"))
		}},
		{"a switch exiting 4: settled-degraded, the instance fails with 10", func(t *testing.T) {
			h.startFailing(t, c, exitDegraded, "settled-degraded")
			assert.Equal(t, c, h.link("run/current-system"))
		}},
		{"a path in no cache: realise-failed, the instance fails with 5", func(t *testing.T) {
			missing := "/nix/store/00000000000000000000000000000000-nixos-system-testhost-24.05"
			h.startFailing(t, missing, exitRealiseFailed, "realise-failed")
			assert.Equal(t, c, h.link("run/current-system"), "unchanged")
		}},
		{"the instance killed mid-switch, then a reboot: recover at boot resolves the run", func(t *testing.T) {
			unit := h.instance(t, e)
			h.mustExec(t, "systemctl", "start", "--no-block", unit)
			waitUntil(t, "in-flight record at step fired", func() bool {
				data, err := os.ReadFile(h.recordFile())
				return err == nil && strings.Contains(string(data), `"step":"fired"`)
			})
			assert.Equal(t, "active", h.show(t, ctSwitchUnit+".service", "ActiveState"), "held at its gate")
			h.mustExec(t, "systemctl", "kill", "--signal=SIGKILL", unit)
			waitUntil(t, "the instance failed", func() bool { return h.show(t, unit, "ActiveState") == "failed" })
			assert.Equal(t, "signal", h.show(t, unit, "Result"))
			require.FileExists(t, h.recordFile(), "the killed run leaves its record")

			h.boot(top) // the container outlives this step
			state := h.state(t, recoverUnit)
			out := h.outcome(t, recoverUnit)
			t.Logf("recover at boot: %s %v", state, out)
			assert.Equal(t, true, out["recovered"], "%v", out)
			assert.Equal(t, filepath.Base(e), out["closure"])
			assert.Equal(t, "switch-failed", out["outcome"], "%v", out)
			assert.Equal(t, "active/exited/success/7", state, "switch-failed is a resolved run: the unit stays active")
			assert.NoFileExists(t, h.recordFile())
			assert.Equal(t, c, h.link("run/current-system"), "the switch never flipped")
		}},
		{"a later activation and the start of the active targets leave recover alone", func(t *testing.T) {
			invocation := h.show(t, recoverUnit, "InvocationID")
			unit := h.instance(t, g)
			h.mustExec(t, "systemctl", "start", unit)
			out := h.outcome(t, unit)
			assert.Equal(t, "settled", out["outcome"], "%v", out)
			assert.Nil(t, out["earlier"], "recover resolved the killed run at boot")
			// switch-to-configuration starts every active target after a switch.
			h.mustExec(t, "systemctl", "start", "multi-user.target")
			h.mustExec(t, "systemctl", "daemon-reload")
			h.mustExec(t, "systemctl", "start", "multi-user.target")
			assert.Equal(t, invocation, h.show(t, recoverUnit, "InvocationID"), "not started again")
			assert.Equal(t, "active/exited/success/7", h.state(t, recoverUnit))
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.Fatalf("step %q failed; the later steps depend on it", s.name)
		}
	}
}
