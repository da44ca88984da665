package sim_test

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// backendCmds builds one instance of every command line backends/real
// sends, by builder name (the exported methods of *real.Backend that
// return a proc.Cmd).
func backendCmds(b *real.Backend) map[string]proc.Cmd {
	const unit, profile = "nixfleet-activate-switch", sim.DefaultProfile
	closure := "/nix/store/" + newSys
	return map[string]proc.Cmd{
		"RealiseCmd":          b.RealiseCmd(closure, "/var/lib/nixfleet-activate/gcroots/"+newSys),
		"DiagnoseRealiseCmd":  b.DiagnoseRealiseCmd(closure),
		"SetProfileCmd":       b.SetProfileCmd(profile, closure),
		"RollbackCmd":         b.RollbackCmd(profile),
		"SwitchGenerationCmd": b.SwitchGenerationCmd(profile, 1),
		"ListGenerationsCmd":  b.ListGenerationsCmd(profile),
		"UnitStatusCmd":       b.UnitStatusCmd(unit),
		"StopCmd":             b.StopCmd(unit),
		"ResetFailedCmd":      b.ResetFailedCmd(unit),
		"RunCmd":              b.RunCmd(pipeline.FireRequest{Unit: unit, Closure: closure, Action: pipeline.ActionSwitch}),
		"CheckRunCmd":         b.CheckRunCmd("nixfleet-activate-check-web", []string{closure + "/" + pipeline.HealthChecks + "/web"}),
		"JournalTailCmd":      b.JournalTailCmd("0123456789abcdef0123456789abcdef", 20),
		"JournalSyncCmd":      b.JournalSyncCmd(),
		"InvocationIDCmd":     b.InvocationIDCmd(unit),
		"SystemStateCmd":      b.SystemStateCmd(),
		"FailedUnitsCmd":      b.FailedUnitsCmd(),
	}
}

// usageMarkers are the texts of the emulated tools' usage errors: an
// emulated command line the tool would refuse to parse is no emulation.
var usageMarkers = []string{"unrecognized option", "invalid option", "requires an argument",
	"unknown flag", "no operation specified", "Too few arguments", "Unknown command verb"}

func TestEveryCommandLineOfTheRealBackendIsEmulated(t *testing.T) {
	b := real.New(real.Config{})
	cmds := backendCmds(b)
	bt := reflect.TypeOf(b)
	cmdType := reflect.TypeOf(proc.Cmd{})
	for i := range bt.NumMethod() {
		m := bt.Method(i)
		if strings.HasSuffix(m.Name, "Cmd") && m.Type.NumOut() == 1 && m.Type.Out(0) == cmdType {
			assert.Contains(t, cmds, m.Name, "a new command builder: add it here and emulate it in the simulator")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(cmds)) {
		t.Run(name, func(t *testing.T) {
			h, _ := world(t, &sim.SwitchBehaviour{Duration: 7 * time.Second, Flip: sim.Flip{At: 5 * time.Second}})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := h.Run(ctx, cmds[name])
			require.NoError(t, err, "%s", cmds[name])
			for _, marker := range usageMarkers {
				assert.NotContains(t, string(res.Stderr), marker, "%s", cmds[name])
			}
		})
	}
}

func TestAnyOtherCommandLineIsNotEmulated(t *testing.T) {
	h, _ := world(t, nil)
	for _, argv := range [][]string{
		{"systemctl", "daemon-reload"},
		{"systemctl", "status", "nixfleet-activate-switch.service"},
		{"systemctl", "--no-pager", "show", "x.service"},
		{"systemd-run", "--scope", "--", "true"},
		{"systemd-run", "--quiet", "--unit=x", "--", "true"},
		{"nix-store", "--gc"},
		{"nix-env", "--profile", sim.DefaultProfile, "--delete-generations", "old"},
		{"journalctl", "-u", "x.service"},
	} {
		_, err := h.Run(context.Background(), proc.Cmd{Argv: argv})
		assert.ErrorIs(t, err, sim.ErrNotEmulated, "%q", argv)
		assert.ErrorContains(t, err, "not emulated", "%q", argv)
	}
}
