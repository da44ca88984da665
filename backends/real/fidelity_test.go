package real_test

// Simulator fidelity: the same command lines, built by this package's
// command builders, go to the real tools and to the simulator's emulated
// ones (sim.Host.Run, sim.Host.Locker), and the tests fail on any difference
// in exit code or in the lines the parsers depend on. The simulated host is
// given the real store paths, cache URLs, keys, profile and lock paths, so
// almost nothing needs normalising; what must differ is normalised in one
// place (normalise) and says why.
//
// Real side: the machine's Nix 2.8 (Debian nix-bin) for nix-store and
// nix-env; systemd 252 in a realtest container for systemd-run and
// systemctl; flock(2) through real.Flock on temporary files for the lock.

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/backends/real/realtest"
	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// normalisations replace what the simulator cannot reproduce, and only that.
var normalisations = []struct {
	re   *regexp.Regexp
	with string
}{
	// NAR hashes: the simulator computes no NARs; it prints a hash of the
	// right shape (52 characters of Nix base-32) derived from the path.
	{regexp.MustCompile(`sha256:[0-9a-z]{52}`), "sha256:<nar-hash>"},
	{regexp.MustCompile(`nar/[0-9a-z]{52}\.nar\.xz`), "nar/<file-hash>.nar.xz"},
	// Generation times: real local time versus the virtual clock.
	{regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`), "<time>"},
	// Main PIDs: the container's PID namespace versus the simulator's
	// counter (0, "no process", is kept).
	{regexp.MustCompile(`(?m)^ExecMainPID=[1-9]\d*$`), "ExecMainPID=<pid>"},
	// Contention on the machine's Nix database: Nix 2.8 retries and warns
	// (observed while other tests used the store). It depends on what else
	// runs, not on the command; the simulator has no concurrent users.
	{regexp.MustCompile(`(?m)^warning: error: SQLite database '[^'\n]*' is busy\n`), ""},
}

func normalise(s string) string {
	for _, n := range normalisations {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return s
}

// twin runs one command line on the real tool and on the simulated host.
type twin struct {
	real proc.Runner
	sim  *sim.Host
}

func (tw twin) run(t *testing.T, cmd proc.Cmd) (r, s proc.Result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := tw.real.Run(ctx, cmd)
	require.NoError(t, err, "real %s: %s", cmd, r.Stderr)
	s, err = tw.sim.Run(ctx, cmd)
	require.NoError(t, err, "simulated %s", cmd)
	t.Logf("%s\n  real exit %d, stdout %q, stderr %q\n  sim  exit %d, stdout %q, stderr %q",
		cmd, r.ExitCode, r.Stdout, r.Stderr, s.ExitCode, s.Stdout, s.Stderr)
	return r, s
}

// same runs cmd on both sides and compares the outputs (sameOutput).
func (tw twin) same(t *testing.T, cmd proc.Cmd) (r, s proc.Result) {
	t.Helper()
	r, s = tw.run(t, cmd)
	sameOutput(t, r, s)
	return r, s
}

// sameOutput fails on a different exit code, stdout or stderr (normalised).
func sameOutput(t *testing.T, r, s proc.Result) {
	t.Helper()
	assert.Equal(t, r.ExitCode, s.ExitCode, "exit code")
	assert.Equal(t, normalise(string(r.Stdout)), normalise(string(s.Stdout)), "stdout")
	assert.Equal(t, normalise(string(r.Stderr)), normalise(string(s.Stderr)), "stderr")
}

// sameRealise compares nix-store --realise: exit code, the realised path
// line (ParseRealisedPath) or the failure class (ClassifyRealise), and the
// whole output.
func sameRealise(t *testing.T, r, s proc.Result) {
	t.Helper()
	if r.ExitCode == 0 {
		rp, rerr := real.ParseRealisedPath(string(r.Stdout))
		sp, serr := real.ParseRealisedPath(string(s.Stdout))
		assert.Equal(t, rerr, serr)
		assert.Equal(t, rp, sp, "realised path line")
	} else {
		assert.Equal(t, real.ClassifyRealise(string(r.Stderr)), real.ClassifyRealise(string(s.Stderr)),
			"ClassifyRealise")
	}
	sameOutput(t, r, s)
}

// fidelityClosure builds a closure with a test-unique variant; it is deleted
// from the store on cleanup.
func fidelityClosure(t *testing.T, root, suffix string, opts realtest.ClosureOpts) string {
	t.Helper()
	opts.Variant, opts.TestRoot = variant(t, "-"+suffix), root
	p := realtest.BuildClosure(t, opts)
	t.Cleanup(func() { realtest.DeleteFromStore(t, p) })
	return p
}

func TestFidelityRealise(t *testing.T) {
	n := realtest.RequireNix(t)
	root := t.TempDir()
	// GOTCHA: the simulator has no references between store paths: a
	// closure is one path. keeper keeps the shared kernel and initrd valid,
	// so that Nix too fetches one path, not three.
	fidelityClosure(t, root, "keeper", realtest.ClosureOpts{})
	good := fidelityClosure(t, root, "good", realtest.ClosureOpts{})
	victim := fidelityClosure(t, root, "victim", realtest.ClosureOpts{})
	donor := fidelityClosure(t, root, "donor", realtest.ClosureOpts{})
	narless := fidelityClosure(t, root, "narless", realtest.ClosureOpts{})
	garbage := fidelityClosure(t, root, "garbage", realtest.ClosureOpts{})
	unsignedPath := fidelityClosure(t, root, "unsigned", realtest.ClosureOpts{})
	cache, unsigned := realtest.NewCache(t), realtest.NewUnsignedCache(t)
	for _, p := range []string{good, victim, donor, narless, garbage} {
		cache.Publish(t, p)
	}
	unsigned.Publish(t, unsignedPath)
	cache.ReplaceNAR(t, victim, donor)
	cache.RemoveNAR(t, narless)
	require.NoError(t, os.WriteFile(cache.NARFile(t, garbage), []byte("garbage\n"), 0o644))
	for _, p := range []string{good, victim, narless, garbage, unsignedPath} {
		realtest.DeleteFromStore(t, p)
	}

	h := sim.MustNewHost(sim.HostConfig{})
	offer := func(p string, o sim.Offer) {
		h.MustAddClosure(sim.ClosureSpec{Basename: filepath.Base(p), Offers: []sim.Offer{o}})
	}
	signed := func(d sim.OfferDefect) sim.Offer {
		return sim.Offer{URL: cache.URL(), SignedBy: cache.PublicKey(), Defect: d}
	}
	offer(good, signed(sim.OfferGood))
	offer(victim, signed(sim.OfferHashMismatch))
	offer(narless, signed(sim.OfferNarMissing))
	offer(garbage, signed(sim.OfferGarbage))
	offer(unsignedPath, sim.Offer{URL: unsigned.URL()})
	tw := twin{real: proc.Exec{}, sim: h}
	backend := func(c *realtest.Cache, key string) *real.Backend {
		return real.New(real.Config{Substituters: []string{c.URL()}, TrustedPublicKeys: []string{key}, Env: n.Env})
	}

	// LOADBEARING: the wrong key runs before the right one: a path already
	// valid realises with exit 0 whatever the keys.
	for _, c := range []struct {
		name string
		cmd  proc.Cmd
		want pipeline.RealiseFailure // "" for success
	}{
		{"untrusted: wrong key", backend(cache, realtest.WrongPublicKey(t)).RealiseCmd(good, ""), pipeline.RealiseUntrusted},
		{"untrusted: unsigned cache", backend(unsigned, cache.PublicKey()).RealiseCmd(unsignedPath, ""), pipeline.RealiseUntrusted},
		{"success from the cache", backend(cache, cache.PublicKey()).RealiseCmd(good, ""), ""},
		{"already valid", backend(cache, realtest.WrongPublicKey(t)).RealiseCmd(good, ""), ""},
		{"in no cache", backend(cache, cache.PublicKey()).RealiseCmd(
			"/nix/store/00000000000000000000000000000000-nixos-system-testhost-24.05", ""), pipeline.RealiseNotFound},
		{"hash mismatch", backend(cache, cache.PublicKey()).RealiseCmd(victim, ""), pipeline.RealiseHashMismatch},
		{"NAR missing", backend(cache, cache.PublicKey()).RealiseCmd(narless, ""), pipeline.RealiseCorrupt},
		{"NAR garbage", backend(cache, cache.PublicKey()).RealiseCmd(garbage, ""), pipeline.RealiseCorrupt},
		{"hash too short", backend(cache, cache.PublicKey()).RealiseCmd("/nix/store/not-a-hash", ""), pipeline.RealiseInvalidPath},
		{"illegal base-32 character", backend(cache, cache.PublicKey()).RealiseCmd(
			"/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-x", ""), pipeline.RealiseInvalidPath},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, s := tw.run(t, c.cmd)
			sameRealise(t, r, s)
			if c.want == "" {
				assert.Equal(t, 0, r.ExitCode, "real")
			} else {
				assert.Equal(t, c.want, real.ClassifyRealise(string(r.Stderr)), "real")
			}
		})
	}
}

func TestFidelityProfile(t *testing.T) {
	n := realtest.RequireNix(t)
	root := t.TempDir()
	a := fidelityClosure(t, root, "a", realtest.ClosureOpts{})
	b := fidelityClosure(t, root, "b", realtest.ClosureOpts{})
	profile := filepath.Join(t.TempDir(), "system")
	h := sim.MustNewHost(sim.HostConfig{Profile: profile})
	for _, p := range []string{a, b} {
		h.MustAddClosure(sim.ClosureSpec{Basename: filepath.Base(p), Valid: true})
	}
	tw := twin{real: proc.Exec{}, sim: h}
	be := real.New(real.Config{Env: n.Env})
	switchTo := func(gen int) proc.Cmd { return be.SwitchGenerationCmd(profile, gen) }

	// The sequence of OBSERVED.md, each step on both sides.
	for i, cmd := range []proc.Cmd{
		be.ListGenerationsCmd(profile), // no profile yet: exit 0, nothing
		be.RollbackCmd(profile),        // "(0)"
		be.SetProfileCmd(profile, a),   // generation 1
		be.RollbackCmd(profile),        // at generation 1: "(1)"
		be.SetProfileCmd(profile, b),   // 2
		be.ListGenerationsCmd(profile),
		be.RollbackCmd(profile),      // 2 -> 1
		be.SetProfileCmd(profile, b), // the highest holds b: back to 2, no 3
		be.ListGenerationsCmd(profile),
		be.RollbackCmd(profile),      // 2 -> 1
		be.SetProfileCmd(profile, a), // a again: 3
		be.ListGenerationsCmd(profile),
		switchTo(9), // missing
		switchTo(2), // 3 -> 2
		be.ListGenerationsCmd(profile),
	} {
		r, s := tw.same(t, cmd)
		if cmd.Argv[len(cmd.Argv)-1] == "--list-generations" {
			rg, rerr := real.ParseGenerations(string(r.Stdout), time.Local)
			sg, serr := real.ParseGenerations(string(s.Stdout), time.Local)
			require.NoError(t, rerr)
			require.NoError(t, serr)
			assert.Equal(t, numbersAndCurrent(rg), numbersAndCurrent(sg), "step %d: ParseGenerations", i)
		}
		if t.Failed() {
			t.Fatalf("step %d (%s) differs; the later steps depend on it", i, cmd)
		}
	}
}

// numbersAndCurrent drops the creation times (real local time versus the
// virtual clock): "1", "2*" for the current one.
func numbersAndCurrent(gens []real.Generation) []string {
	out := []string{}
	for _, g := range gens {
		mark := ""
		if g.Current {
			mark = "*"
		}
		out = append(out, strconv.Itoa(g.Number)+mark)
	}
	return out
}

// unitTwin drives units on the container's systemd and on the simulated
// host with the same command lines.
type unitTwin struct {
	twin
	// cmds builds the command lines (its Runner is never used).
	cmds *real.Backend
}

// show compares `systemctl show` (UnitStatusCmd) of unit on both sides:
// exit code, the KEY=VALUE lines and what ParseUnitShow makes of them.
func (u unitTwin) show(t *testing.T, unit string) pipeline.UnitStatus {
	t.Helper()
	r, s := u.same(t, u.cmds.UnitStatusCmd(unit))
	rs, rerr := real.ParseUnitShow(string(r.Stdout))
	ss, serr := real.ParseUnitShow(string(s.Stdout))
	require.NoError(t, rerr)
	require.NoError(t, serr)
	assert.Equal(t, rs, ss, "ParseUnitShow")
	return rs
}

// settle lets the real unit's main process end (its ExecMainCode leaves 0
// or the unit is unloaded; at most 30 s: it waits for a real process) and
// advances the simulated clock by a second.
func (u unitTwin) settle(t *testing.T, unit string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		res, err := u.real.Run(context.Background(), u.cmds.UnitStatusCmd(unit))
		require.NoError(t, err)
		st, err := real.ParseUnitShow(string(res.Stdout))
		require.NoError(t, err)
		if st.State != pipeline.UnitRunning {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	u.sim.Clock().Advance(time.Second)
}

// fire starts closure's switch-to-configuration switch in unit on both sides
// with the backend's own systemd-run line and compares the outputs.
func (u unitTwin) fire(t *testing.T, unit, closure string) {
	t.Helper()
	u.same(t, u.cmds.RunCmd(pipeline.FireRequest{Unit: unit, Closure: closure, Action: pipeline.ActionSwitch}))
}

func TestFidelityUnits(t *testing.T) {
	realtest.RequireNix(t)
	root := t.TempDir()
	ok := fidelityClosure(t, root, "ok", realtest.ClosureOpts{})
	// GOTCHA: exit 4 after 200 ms, not at once: an immediate non-zero exit
	// races systemd 252's exec job and sometimes fails systemd-run itself
	// (see TestBinaryRealEndToEnd); the simulator fails it only at offset 0.
	fail := fidelityClosure(t, root, "exit4", realtest.ClosureOpts{ExitCode: 4, FlipDelay: 200 * time.Millisecond})
	slow := fidelityClosure(t, root, "slow", realtest.ClosureOpts{FlipDelay: 10 * time.Minute})
	doomed := fidelityClosure(t, root, "doomed", realtest.ClosureOpts{FlipDelay: 10 * time.Minute})
	box := realtest.StartContainer(t, realtest.ContainerOpts{Binds: []string{root}})

	h := sim.MustNewHost(sim.HostConfig{})
	// The real scripts end within milliseconds; a simulated end at offset
	// 0 would fail systemd-run's exec job instead (sim.SwitchBehaviour).
	for p, sw := range map[string]sim.SwitchBehaviour{
		ok:   {Duration: 10 * time.Millisecond},
		fail: {Duration: 200 * time.Millisecond, Exit: 4},
		slow: {Never: true, Flip: sim.Flip{Never: true}},
		// GOTCHA: the simulator does not emulate `systemctl kill`; the
		// real unit is killed with it, the simulated one by its behaviour.
		doomed: {Duration: 10 * time.Millisecond, Signal: 9, Flip: sim.Flip{Never: true}},
	} {
		sw := sw
		sw.TakesNoLock = true // the test scripts take no switch lock, unlike the real switch-to-configuration
		h.MustAddClosure(sim.ClosureSpec{Basename: filepath.Base(p), Valid: true, Switch: &sw})
	}
	u := unitTwin{twin: twin{real: box.Runner(), sim: h}, cmds: real.New(real.Config{})}
	exited := func(code int) pipeline.UnitStatus {
		result := "success"
		if code != 0 {
			result = "exit-code"
		}
		return pipeline.UnitStatus{State: pipeline.UnitExited, Result: result, ExitCode: &code}
	}
	unknown := pipeline.UnitStatus{State: pipeline.UnitUnknown}

	t.Run("unknown unit", func(t *testing.T) {
		assert.Equal(t, unknown, u.show(t, "fid-none"))
	})
	t.Run("exited 0, remain-after-exit", func(t *testing.T) {
		u.fire(t, "fid-ok", ok)
		u.settle(t, "fid-ok")
		assert.Equal(t, exited(0), u.show(t, "fid-ok"))
	})
	t.Run("failed, exit 4", func(t *testing.T) {
		u.fire(t, "fid-fail", fail)
		u.settle(t, "fid-fail")
		assert.Equal(t, exited(4), u.show(t, "fid-fail"))
	})
	t.Run("loaded and running", func(t *testing.T) {
		u.fire(t, "fid-run", slow)
		assert.Equal(t, pipeline.UnitStatus{State: pipeline.UnitRunning, Result: "success"}, u.show(t, "fid-run"))
	})
	t.Run("killed by SIGKILL", func(t *testing.T) {
		u.fire(t, "fid-kill", doomed)
		_, stderr, exit, err := box.Exec(context.Background(), "systemctl", "kill", "--signal=SIGKILL", "fid-kill.service")
		require.NoError(t, err)
		require.Equal(t, 0, exit, stderr)
		u.settle(t, "fid-kill")
		nine := 9
		assert.Equal(t, pipeline.UnitStatus{State: pipeline.UnitExited, Result: "signal", Signal: &nine}, u.show(t, "fid-kill"))
	})
	t.Run("collected after exit 4", func(t *testing.T) {
		u.same(t, proc.Cmd{Argv: []string{"systemd-run", "--unit=fid-collect", "--collect", "--service-type=exec",
			"--no-ask-password", "--", real.SwitchProgram(fail), "switch"}})
		u.settle(t, "fid-collect")
		assert.Equal(t, unknown, u.show(t, "fid-collect"), "the true status is gone: unknown, never 0")
	})
	t.Run("systemd-run refuses a loaded name", func(t *testing.T) {
		for _, name := range []string{"fid-ok", "fid-fail", "fid-run"} {
			r, _ := u.same(t, u.cmds.RunCmd(pipeline.FireRequest{Unit: name, Closure: ok, Action: pipeline.ActionSwitch}))
			assert.Equal(t, 1, r.ExitCode, name)
		}
	})
	t.Run("stop and reset-failed of a unit not loaded", func(t *testing.T) {
		for _, cmd := range []proc.Cmd{u.cmds.StopCmd("fid-none"), u.cmds.ResetFailedCmd("fid-none")} {
			r, s := u.same(t, cmd)
			assert.NotZero(t, r.ExitCode)
			assert.True(t, real.IsUnitNotLoaded(string(r.Stderr)), "real %q", r.Stderr)
			assert.True(t, real.IsUnitNotLoaded(string(s.Stderr)), "sim %q", s.Stderr)
		}
	})
	t.Run("stop leaves a failed unit, reset-failed frees it", func(t *testing.T) {
		u.same(t, u.cmds.StopCmd("fid-fail"))
		assert.Equal(t, exited(4), u.show(t, "fid-fail"))
		u.same(t, u.cmds.ResetFailedCmd("fid-fail"))
		assert.Equal(t, unknown, u.show(t, "fid-fail"))
	})
	t.Run("reset-failed leaves an exited unit, stop frees it; reset-failed then finds nothing", func(t *testing.T) {
		// ReleaseUnit sends stop alone for it: reset-failed would not do.
		u.same(t, u.cmds.ResetFailedCmd("fid-ok"))
		assert.Equal(t, exited(0), u.show(t, "fid-ok"))
		u.same(t, u.cmds.StopCmd("fid-ok"))
		assert.Equal(t, unknown, u.show(t, "fid-ok"))
		u.same(t, u.cmds.ResetFailedCmd("fid-ok"))
	})
	t.Run("stop ends a running unit and frees it", func(t *testing.T) {
		u.same(t, u.cmds.StopCmd("fid-run"))
		assert.Equal(t, unknown, u.show(t, "fid-run"))
	})
}

// TestFidelityLockStates probes the same lock file with flock(2)
// (real.Flock) and with the simulator's Locker in each state. It needs no
// tool, only Linux.
func TestFidelityLockStates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "nixos")
	lock := filepath.Join(dir, "switch-to-configuration.lock")
	h := sim.MustNewHost(sim.HostConfig{LockPath: lock})
	hold := func(how int) func() {
		f, err := os.OpenFile(lock, os.O_RDWR|os.O_CREATE, 0o644)
		require.NoError(t, err)
		require.NoError(t, unix.Flock(int(f.Fd()), how|unix.LOCK_NB))
		return func() { _ = f.Close() }
	}
	touch := func() func() {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(lock, nil, 0o644))
		return func() {}
	}
	for _, c := range []struct {
		state sim.LockState
		// set puts the real file in the state and returns its release.
		set  func() func()
		want pipeline.LockState
	}{
		{sim.LockFree, touch, pipeline.LockFree},
		{sim.LockShared, func() func() { touch(); return hold(unix.LOCK_SH) }, pipeline.LockFree},
		{sim.LockExclusive, func() func() { touch(); return hold(unix.LOCK_EX) }, pipeline.LockHeld},
		{sim.LockStale, func() func() { touch(); hold(unix.LOCK_EX)(); return func() {} }, pipeline.LockFree},
		{sim.LockFileMissing, func() func() { touch(); require.NoError(t, os.Remove(lock)); return func() {} }, pipeline.LockFree},
		{sim.LockDirMissing, func() func() { require.NoError(t, os.RemoveAll(dir)); return func() {} }, pipeline.LockFree},
	} {
		t.Run(string(c.state), func(t *testing.T) {
			release := c.set()
			defer release()
			require.NoError(t, h.SetLock(c.state))
			rs, rerr := real.Flock{}.Probe(lock)
			ss, serr := h.Locker().Probe(lock)
			assert.Equal(t, rerr, serr, "probe error")
			assert.Equal(t, rs, ss, "lock state")
			assert.Equal(t, c.want, rs, "real")
			_, rstat := os.Lstat(lock)
			_, sstat := h.FS().Lstat(lock)
			assert.Equal(t, rstat == nil, sstat == nil, "the probe creates nothing")
		})
	}
}
