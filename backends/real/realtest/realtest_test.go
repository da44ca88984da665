package realtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/proc"
)

// uniqueVariant gives each run fresh store paths, so parallel runs on one
// machine never delete each other's closures.
func uniqueVariant(t testing.TB) string {
	return fmt.Sprintf("%s-%d-%d", strings.ReplaceAll(t.Name(), "/", "-"), os.Getpid(), time.Now().UnixNano())
}

func TestStrictFollowsEnvironment(t *testing.T) {
	for _, tc := range []struct {
		ci, require string
		want        bool
	}{
		{"", "", false},
		{"true", "", true},
		{"false", "", false},
		{"", "1", true},
		{"", "0", false},
	} {
		t.Setenv(EnvCI, tc.ci)
		t.Setenv(EnvRequireReal, tc.require)
		assert.Equal(t, tc.want, Strict(), "CI=%q NIXFLEET_REQUIRE_REAL=%q", tc.ci, tc.require)
	}
}

func TestClosureOptsValidate(t *testing.T) {
	ok := ClosureOpts{TestRoot: "/srv/root"}.withDefaults()
	require.NoError(t, ok.validate())
	for name, bad := range map[string]ClosureOpts{
		"host with slash":  {Host: "a/b", TestRoot: "/srv/root"},
		"exit code 256":    {ExitCode: 256, TestRoot: "/srv/root"},
		"negative delay":   {FlipDelay: -time.Second, TestRoot: "/srv/root"},
		"no test root":     {},
		"never flip alone": {NeverFlip: true},
		"relative root":    {TestRoot: "srv/root"},
		"root is /":        {TestRoot: "/"},
		"unclean root":     {TestRoot: "/srv/../root"},
		"quote in root":    {TestRoot: "/srv/it's"},
	} {
		assert.Error(t, bad.withDefaults().validate(), name)
	}
}

func TestOwnCgroupsParsesThisProcess(t *testing.T) {
	own, err := ownCgroups()
	require.NoError(t, err)
	assert.NotEmpty(t, own, "/proc/self/cgroup names at least one hierarchy")
	for key, path := range own {
		assert.True(t, strings.HasPrefix(path, "/"), "%s: %q", key, path)
	}
}

// realise runs nix-store --realise of path with cache as the only
// substituter, trusting only key.
func realise(t *testing.T, n *Nix, cache *Cache, path, key string) proc.Result {
	t.Helper()
	return n.Run(t, append([]string{"nix-store", "--realise", path}, cache.SubstituterOptions(key)...)...)
}

// TestClosurePublishDeleteRealise runs the Nix half of the harness end to
// end: build, sign and publish, delete locally, substitute back.
func TestClosurePublishDeleteRealise(t *testing.T) {
	n := RequireNix(t)
	root := t.TempDir()
	path := BuildClosure(t, ClosureOpts{Host: "web1", Variant: uniqueVariant(t), ExitCode: 4, TestRoot: root})
	t.Cleanup(func() { DeleteFromStore(t, path) })
	assert.Regexp(t, `^/nix/store/[0-9a-df-np-sv-z]{32}-nixos-system-web1-24\.05$`, path)
	for _, f := range []string{"bin/switch-to-configuration", "kernel", "initrd", "systemd/lib/systemd/systemd",
		"sw/lib/systemd/systemd", "etc/systemd/system/dbus.service"} {
		assert.FileExists(t, filepath.Join(path, f))
	}

	cache := NewCache(t)
	cache.Publish(t, path)
	DeleteFromStore(t, path)
	assert.NoDirExists(t, path)
	assert.Equal(t, 1, n.Run(t, "nix-store", "--check-validity", path).ExitCode)

	wrong := realise(t, n, cache, path, WrongPublicKey(t))
	assert.Equal(t, 1, wrong.ExitCode)
	assert.Contains(t, string(wrong.Stderr), "is not signed by any of the keys in 'trusted-public-keys'")
	assert.Contains(t, string(wrong.Stderr), "error: build of '"+path+"' failed")

	ok := realise(t, n, cache, path, cache.PublicKey())
	require.Equal(t, 0, ok.ExitCode, "%s", ok.Stderr)
	assert.Equal(t, path+"\n", string(ok.Stdout))
	assert.Contains(t, string(ok.Stderr), "copying path '"+path+"' from '"+cache.URL()+"'...")
	assert.FileExists(t, filepath.Join(path, "kernel"), "the kernel path came back with the closure")
}

func TestCacheCorruptionsFailRealise(t *testing.T) {
	n := RequireNix(t)
	root := t.TempDir()
	victim := BuildClosure(t, ClosureOpts{Variant: uniqueVariant(t) + "-victim", TestRoot: root})
	donor := BuildClosure(t, ClosureOpts{Variant: uniqueVariant(t) + "-donor", TestRoot: root})
	t.Cleanup(func() { DeleteFromStore(t, victim); DeleteFromStore(t, donor) })
	cache := NewCache(t)
	cache.Publish(t, victim)
	cache.Publish(t, donor)
	cache.ReplaceNAR(t, victim, donor)
	DeleteFromStore(t, victim)

	res := realise(t, n, cache, victim, cache.PublicKey())
	assert.Equal(t, 1, res.ExitCode)
	assert.Contains(t, string(res.Stderr), "error: hash mismatch importing path '"+victim+"';")

	cache.RemoveNAR(t, victim)
	res = realise(t, n, cache, victim, cache.PublicKey())
	assert.Equal(t, 1, res.ExitCode)
	assert.Regexp(t, `error: file 'nar/[0-9a-z]+\.nar\.xz' does not exist in binary cache`, string(res.Stderr))
}

func TestUnsignedCacheIsRefused(t *testing.T) {
	n := RequireNix(t)
	path := BuildClosure(t, ClosureOpts{Variant: uniqueVariant(t), TestRoot: t.TempDir()})
	t.Cleanup(func() { DeleteFromStore(t, path) })
	signed, unsigned := NewCache(t), NewUnsignedCache(t)
	assert.Empty(t, unsigned.PublicKey())
	unsigned.Publish(t, path)
	DeleteFromStore(t, path)
	res := realise(t, n, unsigned, path, signed.PublicKey())
	assert.Equal(t, 1, res.ExitCode)
	assert.Contains(t, string(res.Stderr), "the substitute for '"+path+"' from '"+unsigned.URL()+"' is not signed")
}

func TestDeleteFromStoreDropsProfileRoots(t *testing.T) {
	n := RequireNix(t)
	path := BuildClosure(t, ClosureOpts{Variant: uniqueVariant(t), TestRoot: t.TempDir()})
	profile := filepath.Join(t.TempDir(), "system")
	n.MustRun(t, "nix-env", "--profile", profile, "--set", path)
	refused := n.Run(t, "nix-store", "--delete", path)
	require.Equal(t, 1, refused.ExitCode)
	assert.Contains(t, string(refused.Stderr), "error: Cannot delete path '"+path+"' since it is still alive.")

	DeleteFromStore(t, path)
	assert.NoDirExists(t, path)
	assert.NoFileExists(t, profile+"-1-link")
	DeleteFromStore(t, path) // already gone: a no-op
}

func TestSwitchScriptFlipsOnSwitchOnly(t *testing.T) {
	n := RequireNix(t)
	root := t.TempDir()
	path := BuildClosure(t, ClosureOpts{Variant: uniqueVariant(t), ExitCode: 3, TestRoot: root})
	t.Cleanup(func() { DeleteFromStore(t, path) })
	current := filepath.Join(root, "run", "current-system")
	stc := filepath.Join(path, "bin", "switch-to-configuration")

	assert.Equal(t, 3, n.Run(t, stc, "boot").ExitCode)
	assert.NoFileExists(t, current, "boot does not activate")
	assert.Equal(t, 3, n.Run(t, stc, "switch").ExitCode)
	target, err := os.Readlink(current)
	require.NoError(t, err)
	assert.Equal(t, path, target)
	usage := n.Run(t, stc, "bogus")
	assert.Equal(t, 1, usage.ExitCode)
	log, err := os.ReadFile(filepath.Join(root, SwitchLog))
	require.NoError(t, err)
	assert.Equal(t, "boot "+path+"\nswitch "+path+"\n", string(log))
}

func TestFlipGateHoldsTheSwitch(t *testing.T) {
	RequireNix(t)
	root := t.TempDir()
	gate := filepath.Join(root, "gates", "go")
	path := BuildClosure(t, ClosureOpts{Variant: uniqueVariant(t), ExitCode: 4, FlipGate: gate, TestRoot: root})
	t.Cleanup(func() { DeleteFromStore(t, path) })
	cmd := exec.Command(filepath.Join(path, "bin", "switch-to-configuration"), "switch")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	log := filepath.Join(root, SwitchLog)
	require.Eventually(t, func() bool { _, err := os.Stat(log); return err == nil }, time.Minute, 10*time.Millisecond,
		"the switch logs its action before the gate")
	assert.NoFileExists(t, filepath.Join(root, "run", "current-system"), "held at the gate")

	OpenGate(t, gate)
	err := cmd.Wait()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, 4, exitErr.ExitCode())
	target, err := os.Readlink(filepath.Join(root, "run", "current-system"))
	require.NoError(t, err)
	assert.Equal(t, path, target)
	data, err := os.ReadFile(log)
	require.NoError(t, err)
	assert.Equal(t, "switch "+path+"\n", string(data))
}

func TestNeverFlipAndSharedComponents(t *testing.T) {
	n := RequireNix(t)
	root := t.TempDir()
	a := BuildClosure(t, ClosureOpts{Variant: uniqueVariant(t) + "-a", NeverFlip: true, TestRoot: root})
	b := BuildClosure(t, ClosureOpts{Variant: uniqueVariant(t) + "-b", TestRoot: root})
	c := BuildClosure(t, ClosureOpts{Variant: uniqueVariant(t) + "-c", KernelVersion: "6.6.1",
		SystemdVersion: "253", DbusVersion: "1.14.12", TestRoot: root})
	t.Cleanup(func() { DeleteFromStore(t, a); DeleteFromStore(t, b); DeleteFromStore(t, c) })
	assert.NotEqual(t, a, b)

	assert.Equal(t, 0, n.Run(t, filepath.Join(a, "bin", "switch-to-configuration"), "switch").ExitCode)
	assert.NoFileExists(t, filepath.Join(root, "run", "current-system"))

	target := func(p, rel string) string {
		resolved, err := filepath.EvalSymlinks(filepath.Join(p, rel))
		require.NoError(t, err)
		return resolved
	}
	for _, comp := range []struct{ rel, wantC string }{
		{"kernel", "-linux-6.6.1/bzImage"},
		{"initrd", "-initrd-linux-6.6.1/initrd"},
		{"systemd", "-systemd-253"},
		{"sw/lib/systemd/systemd", "-systemd-253/lib/systemd/systemd"},
		{"etc/systemd/system/dbus.service", "-dbus-1.14.12/share/systemd/system/dbus.service"},
	} {
		assert.Equal(t, target(a, comp.rel), target(b, comp.rel), "%s: same versions, same store path", comp.rel)
		assert.NotEqual(t, target(a, comp.rel), target(c, comp.rel), comp.rel)
		assert.True(t, strings.HasSuffix(target(c, comp.rel), comp.wantC), "%s: %s", comp.rel, target(c, comp.rel))
		assert.NotContains(t, target(a, comp.rel), filepath.Base(a), "%s lives outside the closure's own path", comp.rel)
	}
	assert.Equal(t, target(a, "systemd")+"/lib/systemd/systemd", target(a, "sw/lib/systemd/systemd"))
}

// showUnit reads `systemctl show` KEY=VALUE lines into a map.
func showUnit(t *testing.T, c *Container, unit string) map[string]string {
	t.Helper()
	stdout, stderr, exit, err := c.Exec(context.Background(), "systemctl", "show",
		"--property=LoadState,ActiveState,SubState,Result,ExecMainCode,ExecMainStatus", unit)
	require.NoError(t, err)
	require.Equal(t, 0, exit, stderr)
	props := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		k, v, _ := strings.Cut(line, "=")
		props[k] = v
	}
	return props
}

// waitUnitFinished polls `systemctl show` until the unit's main process is
// gone (ExecMainCode is 0 while it runs), for at most 30 s of real time.
func waitUnitFinished(t *testing.T, c *Container, unit string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		props := showUnit(t, c, unit)
		if props["ExecMainCode"] != "0" || time.Now().After(deadline) {
			return props
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestContainerRunsSwitchUnderSystemd runs a closure's switch script as a
// transient unit of the container's systemd, as the real backend does.
func TestContainerRunsSwitchUnderSystemd(t *testing.T) {
	RequireNix(t)
	root := t.TempDir()
	path := BuildClosure(t, ClosureOpts{Variant: uniqueVariant(t), ExitCode: 4, TestRoot: root})
	t.Cleanup(func() { DeleteFromStore(t, path) })
	c := StartContainer(t, ContainerOpts{Binds: []string{root}})

	ctx := context.Background()
	hostname, _, exit, err := c.Exec(ctx, "cat", "/proc/sys/kernel/hostname")
	require.NoError(t, err)
	require.Equal(t, 0, exit)
	assert.Equal(t, c.Name, strings.TrimSpace(hostname), "commands run inside the container")

	_, stderr, exit, err := c.Exec(ctx, "systemd-run", "--unit=nixos-switch", "--remain-after-exit", "--",
		filepath.Join(path, "bin", "switch-to-configuration"), "switch")
	require.NoError(t, err)
	require.Equal(t, 0, exit, stderr)
	assert.Equal(t, "Running as unit: nixos-switch.service\n", stderr)

	props := waitUnitFinished(t, c, "nixos-switch.service")
	assert.Equal(t, map[string]string{
		"LoadState": "loaded", "ActiveState": "failed", "SubState": "failed",
		"Result": "exit-code", "ExecMainCode": "1", "ExecMainStatus": "4",
	}, props)
	target, err := os.Readlink(filepath.Join(root, "run", "current-system"))
	require.NoError(t, err)
	assert.Equal(t, path, target, "the flip inside the container is visible on the host")

	_, stderr, exit, err = c.Exec(ctx, "systemd-run", "--unit=nixos-switch", "--", "/bin/true")
	require.NoError(t, err)
	assert.Equal(t, 1, exit)
	assert.Equal(t, "Failed to start transient service unit: Unit nixos-switch.service was already loaded or has a fragment file.\n", stderr)
	_, _, exit, err = c.Exec(ctx, "systemctl", "reset-failed", "nixos-switch.service")
	require.NoError(t, err)
	assert.Equal(t, 0, exit)
	assert.Equal(t, "not-found", showUnit(t, c, "nixos-switch.service")["LoadState"])
}

func TestContainersRunInParallel(t *testing.T) {
	a := StartContainer(t, ContainerOpts{})
	b := StartContainer(t, ContainerOpts{})
	assert.NotEqual(t, a.PID1, b.PID1)
	ctx := context.Background()
	_, _, exit, err := a.Exec(ctx, "systemd-run", "--unit=only-in-a", "--remain-after-exit", "--", "/bin/true")
	require.NoError(t, err)
	require.Equal(t, 0, exit)
	assert.Equal(t, "loaded", showUnit(t, a, "only-in-a.service")["LoadState"])
	assert.Equal(t, "not-found", showUnit(t, b, "only-in-a.service")["LoadState"])
	require.NoError(t, a.Stop())
	assert.Equal(t, "running\n", must(b.Exec(ctx, "systemctl", "is-system-running")))
}

func must(stdout, _ string, _ int, err error) string {
	if err != nil {
		return err.Error()
	}
	return stdout
}

func TestRootFSCompleteNeedsCurrentFormat(t *testing.T) {
	dir := t.TempDir()
	assert.False(t, rootfsComplete(dir), "no marker")
	marker := filepath.Join(dir, rootfsMarker)
	require.NoError(t, os.WriteFile(marker, []byte("2026-01-01T00:00:00Z\n"), 0o644))
	assert.False(t, rootfsComplete(dir), "format 1 marker held only a date")
	require.NoError(t, os.WriteFile(marker, []byte(rootfsFormat+"\nbuilt ...\n"), 0o644))
	assert.True(t, rootfsComplete(dir))
}

func TestRepoRootFindsGoMod(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(root, "go.mod"))
	assert.FileExists(t, filepath.Join(root, rootfsScript))
}

// TestContainerStartSignalsTheCommand checks Start's PID (the command's
// own, not nsenter's), its exit by signal and by status, and that caches
// given as ContainerOpts.Caches are visible inside while other temporary
// directories are not.
func TestContainerStartSignalsTheCommand(t *testing.T) {
	RequireNix(t)
	cache := NewCache(t)
	c := StartContainer(t, ContainerOpts{Caches: []*Cache{cache}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _, exit, err := c.Exec(ctx, "test", "-d", cache.Dir())
	require.NoError(t, err)
	assert.Equal(t, 0, exit, "the cache directory is bound")
	assert.ErrorContains(t, c.checkBinds([]string{t.TempDir()}), "is not visible inside")

	sleeper := c.Start(t, "sleep", "600")
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", sleeper.PID))
	require.NoError(t, err)
	assert.Equal(t, "sleep\n", string(comm))
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", sleeper.PID))
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^NSpid:\s+\d+\s+\d+$`, string(status), "a PID of this machine, inside the container's namespace")
	require.NoError(t, sleeper.Signal(syscall.SIGTERM))
	ended, err := sleeper.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, syscall.SIGTERM, ended.Signal, "nsenter dies by the command's signal")
	assert.Equal(t, -1, ended.Code)

	script := c.Start(t, "/bin/sh", "-c", "sleep 0.3; echo out; echo err >&2; exit 7")
	ended, err = script.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, ProcessExit{Stdout: "out\n", Stderr: "err\n", Code: 7, State: ended.State}, ended)
}
