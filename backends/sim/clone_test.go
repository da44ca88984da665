package sim

import (
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCloneCopiesEveryField(t *testing.T) {
	// Clone lists Host's fields one by one; a new field must be added there
	// (and counted here).
	assert.Equal(t, 24, reflect.TypeFor[Host]().NumField(), "update Host.Clone for the new field")
}

// busyHost is newHost after a failed switch of sysB (its unit loaded and
// failed), with a fault used once of twice, a kill rule and sysB's switch
// set to succeed next time.
func busyHost(t *testing.T) *Host {
	h := newHost(t)
	h.MustAddClosure(ClosureSpec{Basename: sysB, Valid: true, Switch: &SwitchBehaviour{Duration: 2 * time.Second, Exit: 4}})
	h.AddFault(Fault{Match: Cmd("nix-env", "--set"), Exit: 1, Stderr: "error: disk full", Times: 2})
	run(t, h, "nix-env", "--profile", DefaultProfile, "--set", storePath(sysB))
	fire(t, h, "sw", sysB, "switch")
	h.Clock().Advance(3 * time.Second)
	require.NoError(t, h.SetSwitch(sysB, SwitchBehaviour{Duration: time.Second}))
	h.AddFault(Fault{Match: Cmd("systemctl", "stop"), Exit: 5})
	return h
}

// script is a sequence of commands whose results depend on every part of
// the host a clone copies.
func script(t *testing.T, h *Host) []string {
	var out []string
	for _, argv := range [][]string{
		{"nix-env", "--profile", DefaultProfile, "--set", storePath(sysB)},
		{"nix-env", "--profile", DefaultProfile, "--set", storePath(sysB)},
		{"systemctl", "show", showProps, "sw.service"},
		{"systemctl", "reset-failed", "sw.service"},
		{"systemd-run", "--unit=sw2", "--", storePath(sysB) + "/bin/switch-to-configuration", "switch"},
		{"nix-store", "--realise", storePath(sysC)},
	} {
		res := run(t, h, argv...)
		out = append(out, string(res.Stdout)+string(res.Stderr))
	}
	h.Clock().Advance(2 * time.Second)
	res, err := h.Run(t.Context(), cmdWithEnv(nil, "systemctl", "stop", "sw2.service"))
	require.NoError(t, err)
	assert.Equal(t, 5, res.ExitCode, "the fault answers")
	return append(out, h.Summary())
}

func TestCloneBehavesAsTheOriginal(t *testing.T) {
	want := script(t, busyHost(t))
	orig := busyHost(t)
	c, err := orig.Clone()
	require.NoError(t, err)
	assert.Equal(t, orig.Summary(), c.Summary())
	assert.Equal(t, orig.Log(), c.Log())
	assert.Equal(t, orig.Elapsed(), c.Elapsed())

	assert.Equal(t, want, script(t, c), "the clone goes on as the original would")
	assert.Equal(t, want, script(t, orig), "the original is untouched by the clone's run")
}

func TestCloneRefusesPendingEvents(t *testing.T) {
	h := newHost(t)
	h.MustAddClosure(ClosureSpec{Basename: sysB, Valid: true})
	fire(t, h, "sw", sysB, "switch")
	_, err := h.Clone()
	assert.ErrorIs(t, err, ErrEventsPending)
}

func TestCloneHasItsOwnClock(t *testing.T) {
	h := newHost(t)
	h.Clock().Advance(time.Minute)
	c, err := h.Clone()
	require.NoError(t, err)
	c.Clock().Advance(time.Hour)
	assert.Equal(t, time.Minute, h.Elapsed())
	assert.Equal(t, time.Hour+time.Minute, c.Elapsed())
	assert.Same(t, c.Clock(), c.Config().Clock)
}

func TestCloneBehavioursAreApart(t *testing.T) {
	h := newHost(t)
	h.MustAddClosure(ClosureSpec{Basename: sysB, Valid: true})
	c, err := h.Clone()
	require.NoError(t, err)
	require.NoError(t, c.SetSwitch(sysB, SwitchBehaviour{Duration: time.Second, Exit: 9}))
	require.NoError(t, c.SetBoot(sysB, BootBehaviour{Duration: time.Second, Exit: 7}))
	b, err := h.closure(sysB)
	require.NoError(t, err)
	assert.Equal(t, DefaultSwitch(), b.switchBehaviour(), "the original keeps its behaviour")
	assert.Equal(t, DefaultBoot(), b.bootBehaviour())
	cb, err := c.closure(sysB)
	require.NoError(t, err)
	assert.Equal(t, 9, cb.switchBehaviour().Exit)
	assert.Equal(t, 7, cb.bootBehaviour().Exit)
}
