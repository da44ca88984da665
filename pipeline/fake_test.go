package pipeline

import (
	"context"
	"fmt"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/clock"
	"github.com/nixfleet/nixfleet-activate/fsview"
)

// Closure basenames used by the tests (valid Nix base-32 hashes).
const (
	oldClosure   = "0a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-nixos-system-web-24.05"
	newClosure   = "1a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-nixos-system-web-24.11"
	thirdClosure = "2a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-nixos-system-web-25.05"
)

// switchPlan says how a fired unit behaves over virtual time.
type switchPlan struct {
	flipAt   time.Duration // when current-system flips to flipTo (0: never)
	flipTo   string        // default: the fired closure
	exitAt   time.Duration // when the unit exits (0: never)
	exitCode int
	signal   int           // non-zero: killed by this signal instead
	unknown  bool          // the unit's status reads unknown after exit (--collect)
	moveProf string        // on exit, the activation script moved the profile here
	backAt   time.Duration // when current-system flips back to the previous closure (0: never)
	absentAt time.Duration // current-system is removed at absentAt and recreated at flipAt
}

// fakeHost is a hand-written fake of Nix and Backend over an in-memory
// fsview and a virtual clock. It records every effect in order.
type fakeHost struct {
	t       *testing.T
	fs      *fsview.View
	clk     *clock.Virtual
	effects []string

	lockState   LockState
	lockErr     error
	realiseErr  error
	realisedAs  string // non-empty: Realise returns this path
	setErr      error
	setErrAfter int // SetProfile fails from this call on (1-based); 0: setErr applies always
	setCalls    int
	// switchGenErr makes SwitchGeneration fail.
	switchGenErr error
	fireErr      error
	// beforeFire, when set, runs as Fire is called (before fireErr);
	// fireTakes is how long each Fire takes in virtual time.
	beforeFire func()
	fireTakes  time.Duration
	releaseErr error
	plans      map[string]switchPlan // by closure basename
	units      map[string]UnitStatus
	generation int
	// statusErrs makes the next N UnitStatus reads fail (a bus timeout).
	statusErrs int
	// beforeStatus, when set, runs at the start of every UnitStatus read.
	beforeStatus func()
	statusReads  int
}

func newFakeHost(t *testing.T) *fakeHost {
	h := &fakeHost{t: t, fs: fsview.NewMem(), clk: clock.NewVirtual(time.Time{}),
		plans: map[string]switchPlan{}, units: map[string]UnitStatus{}}
	for _, c := range []string{oldClosure, newClosure, thirdClosure} {
		h.addClosure(c, "6.6")
	}
	require.NoError(t, h.fs.MkdirAll("/nix/var/nix/profiles", 0o755))
	require.NoError(t, h.fs.MkdirAll("/run", 0o755))
	h.pointProfile(oldClosure)
	require.NoError(t, h.fs.Symlink("/nix/store/"+oldClosure, "/run/current-system"))
	require.NoError(t, h.fs.Symlink("/nix/store/"+oldClosure, "/run/booted-system"))
	h.plans[newClosure] = switchPlan{flipAt: 5 * time.Second, exitAt: 9 * time.Second}
	h.plans[oldClosure] = switchPlan{flipAt: 3 * time.Second, exitAt: 4 * time.Second}
	h.effects = nil
	return h
}

// addClosure creates a store path whose kernel links to a kernel package.
func (h *fakeHost) addClosure(basename, kernel string) {
	dir := "/nix/store/" + basename
	kpkg := "/nix/store/k" + strings.Repeat("0", 31) + "-linux-" + kernel
	require.NoError(h.t, h.fs.MkdirAll(kpkg, 0o755))
	require.NoError(h.t, h.fs.WriteFile(kpkg+"/bzImage", []byte(kernel), 0o644))
	require.NoError(h.t, h.fs.MkdirAll(dir+"/bin", 0o755))
	require.NoError(h.t, h.fs.WriteFile(dir+"/"+SwitchProgramRel, []byte("#!/bin/sh\n"), 0o555))
	_ = h.fs.Remove(dir + "/kernel")
	require.NoError(h.t, h.fs.Symlink(kpkg+"/bzImage", dir+"/kernel"))
}

func (h *fakeHost) pointProfile(basename string) {
	h.generation++
	link := fmt.Sprintf("system-%d-link", h.generation)
	require.NoError(h.t, h.fs.Symlink("/nix/store/"+basename, "/nix/var/nix/profiles/"+link))
	require.NoError(h.t, h.fs.ReplaceLink(link, "/nix/var/nix/profiles/system"))
}

func (h *fakeHost) record(format string, args ...any) {
	h.effects = append(h.effects, fmt.Sprintf(format, args...))
}

func (h *fakeHost) deps() Deps { return Deps{Nix: h, Backend: h, FS: h.fs, Clock: h.clk} }

func (h *fakeHost) current(t *testing.T) string {
	target, err := h.fs.EvalSymlinks("/run/current-system")
	require.NoError(t, err)
	return path.Base(target)
}

func (h *fakeHost) profile(t *testing.T) string {
	target, err := h.fs.EvalSymlinks("/nix/var/nix/profiles/system")
	require.NoError(t, err)
	return path.Base(target)
}

// Realise makes the GC root as Nix 2.8 does (a symlink to the realised
// path, parents created) and prints the root.
func (h *fakeHost) Realise(_ context.Context, storePath, gcRoot string) (string, error) {
	h.record("realise %s", path.Base(storePath))
	if h.realiseErr != nil {
		return "", h.realiseErr
	}
	if h.realisedAs != "" {
		storePath = h.realisedAs
	}
	require.NoError(h.t, h.fs.MkdirAll(path.Dir(gcRoot), 0o755))
	require.NoError(h.t, h.fs.ReplaceLink(storePath, gcRoot))
	return gcRoot, nil
}

func (h *fakeHost) SetProfile(_ context.Context, profile, storePath string) error {
	h.setCalls++
	h.record("set %s", path.Base(storePath))
	if h.setErr != nil && h.setCalls >= max(h.setErrAfter, 1) {
		return h.setErr
	}
	h.pointProfile(path.Base(storePath))
	return nil
}

func (h *fakeHost) SwitchGeneration(_ context.Context, profile string, generation int) error {
	h.record("switch-generation %d", generation)
	if h.switchGenErr != nil {
		return h.switchGenErr
	}
	link := fmt.Sprintf("system-%d-link", generation)
	if _, err := h.fs.Lstat("/nix/var/nix/profiles/" + link); err != nil {
		return &CommandError{Argv: []string{"nix-env"}, ExitCode: 1, Stderr: fmt.Sprintf("error: profile version %d does not exist", generation)}
	}
	return h.fs.ReplaceLink(link, profile)
}

func (h *fakeHost) SwitchLock(context.Context, string) (LockState, error) {
	h.record("lock")
	return h.lockState, h.lockErr
}

func (h *fakeHost) ReleaseUnit(_ context.Context, unit string) error {
	h.record("release %s", unit)
	if h.releaseErr != nil {
		return h.releaseErr
	}
	if st, ok := h.units[unit]; ok && st.State == UnitRunning {
		return fmt.Errorf("%w: %s", ErrUnitBusy, unit)
	}
	delete(h.units, unit)
	return nil
}

func (h *fakeHost) Fire(_ context.Context, req FireRequest) error {
	closure := path.Base(req.Closure)
	h.record("fire %s %s %s", req.Unit, req.Action, closure)
	if h.beforeFire != nil {
		h.beforeFire()
	}
	h.clk.Advance(h.fireTakes)
	if h.fireErr != nil {
		return h.fireErr
	}
	plan := h.plans[closure]
	if req.Action == ActionBoot {
		plan = switchPlan{exitAt: time.Second, exitCode: plan.exitCode}
	}
	h.units[req.Unit] = UnitStatus{State: UnitRunning}
	if plan.flipAt > 0 {
		to := plan.flipTo
		if to == "" {
			to = closure
		}
		h.clk.Schedule(plan.flipAt, func() { require.NoError(h.t, h.fs.ReplaceLink("/nix/store/"+to, "/run/current-system")) })
	}
	if plan.absentAt > 0 {
		h.clk.Schedule(plan.absentAt, func() { require.NoError(h.t, h.fs.Remove("/run/current-system")) })
	}
	if plan.backAt > 0 {
		prev, err := h.fs.Readlink("/run/current-system")
		require.NoError(h.t, err)
		h.clk.Schedule(plan.backAt, func() { require.NoError(h.t, h.fs.ReplaceLink(prev, "/run/current-system")) })
	}
	if plan.exitAt > 0 {
		h.clk.Schedule(plan.exitAt, func() { h.exitUnit(req.Unit, plan) })
	}
	return nil
}

func (h *fakeHost) exitUnit(unit string, plan switchPlan) {
	st := UnitStatus{State: UnitExited, Result: "success"}
	switch {
	case plan.unknown:
		st = UnitStatus{State: UnitUnknown}
	case plan.signal != 0:
		st.Result, st.Signal = "signal", &plan.signal
	default:
		code := plan.exitCode
		st.ExitCode = &code
		if code != 0 {
			st.Result = "exit-code"
		}
	}
	if plan.moveProf != "" {
		h.pointProfile(plan.moveProf)
	}
	h.units[unit] = st
}

func (h *fakeHost) UnitStatus(_ context.Context, unit string) (UnitStatus, error) {
	h.statusReads++
	if h.beforeStatus != nil {
		h.beforeStatus()
	}
	if h.statusErrs > 0 {
		h.statusErrs--
		return UnitStatus{}, &CommandError{Argv: []string{"systemctl", "show"}, ExitCode: 1,
			Stderr: "Failed to get properties: Connection timed out\n"}
	}
	st, ok := h.units[unit]
	if !ok {
		return UnitStatus{State: UnitUnknown}, nil
	}
	return st, nil
}

// activate runs Activate for newClosure with default options.
func (h *fakeHost) activate(closure string) Outcome {
	return Activate(context.Background(), h.deps(), Target{Closure: closure}, Options{})
}

// effectsBefore asserts that effect a is recorded strictly before b.
func requireOrder(t *testing.T, effects []string, a, b string) {
	t.Helper()
	ia, ib := indexOf(effects, a), indexOf(effects, b)
	require.NotEqual(t, -1, ia, "missing %q in %v", a, effects)
	require.NotEqual(t, -1, ib, "missing %q in %v", b, effects)
	require.Less(t, ia, ib, "%q must come before %q: %v", a, b, effects)
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
