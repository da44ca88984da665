package sim_test

import (
	"context"
	"testing"
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// BenchmarkSwitchTimeline150Polls fires a switch that never flips and polls
// /run/current-system every 2 s for 300 s (150 polls), reading the unit
// status at the end: the simulator's cost of a whole poll budget. The goal
// is far under 5 ms per operation.
func BenchmarkSwitchTimeline150Polls(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		h := sim.MustNewHost(sim.HostConfig{})
		h.MustAddClosure(sim.ClosureSpec{Basename: oldSys, Valid: true})
		h.MustAddClosure(sim.ClosureSpec{Basename: newSys, Valid: true,
			Switch: &sim.SwitchBehaviour{Never: true, Flip: sim.Flip{Never: true}}})
		if err := h.SetCurrent(oldSys); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		fire := proc.Cmd{Argv: []string{"systemd-run", "--unit=sw", "--remain-after-exit", "--",
			"/nix/store/" + newSys + "/bin/switch-to-configuration", "switch"}}
		if res, err := h.Run(ctx, fire); err != nil || res.ExitCode != 0 {
			b.Fatal(err, res)
		}
		for range 150 {
			<-h.Clock().After(2 * time.Second)
			if _, err := h.FS().Readlink(sim.DefaultCurrentSystem); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := h.Run(ctx, proc.Cmd{Argv: []string{"systemctl", "show", "sw.service"}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkActivateWholePollBudget runs pipeline.Activate through the real
// backend over the simulator for a switch that never flips: the full 300 s
// budget of virtual time (host set-up included).
func BenchmarkActivateWholePollBudget(b *testing.B) {
	for b.Loop() {
		h := sim.MustNewHost(sim.HostConfig{Substituters: []string{cache}, TrustedPublicKeys: []string{sim.Key("cache-1")}})
		h.MustAddClosure(sim.ClosureSpec{Basename: oldSys, Valid: true})
		h.MustAddClosure(sim.ClosureSpec{Basename: newSys, Offers: []sim.Offer{{URL: cache, SignedBy: sim.Key("cache-1")}},
			Switch: &sim.SwitchBehaviour{Never: true, Flip: sim.Flip{Never: true}}})
		if err := h.InitProfile(oldSys); err != nil {
			b.Fatal(err)
		}
		if err := h.SetCurrent(oldSys); err != nil {
			b.Fatal(err)
		}
		deps := depsFor(h)
		out := pipeline.Activate(context.Background(), deps, pipeline.Target{Closure: newSys}, pipeline.Options{})
		if out.Kind != pipeline.SwitchFailed {
			b.Fatalf("outcome %s", out.Kind)
		}
	}
}
