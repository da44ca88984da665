package events

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestUnitEndProbe is a measuring probe, not a test: it runs only with
// NIXFLEET_UNIT_END_PROBE=<unit> set, inside a systemd container (the
// container suite runs this package's test binary there:
// TestRealUnitEndLatency in cmd/nixfleet-activate). It follows the unit's
// end through OS's D-Bus subscription, prints "ready" once subscribed and
// then "seen <unix ns>" at the first notification.
// GOTCHA: it must run inside the container: systemd's private socket refuses a client from an outer PID namespace (SO_PEERCRED then gives pid 0, and sd-bus's EXTERNAL authentication fails).
func TestUnitEndProbe(t *testing.T) {
	unit := os.Getenv("NIXFLEET_UNIT_END_PROBE")
	if unit == "" {
		t.Skip("a probe for the container suite; NIXFLEET_UNIT_END_PROBE names the unit")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := OS{SystemdBus: SystemdPrivateSocket}.Watch(ctx, Request{Unit: unit})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if !w.Units() {
		t.Fatal(UnitErr(w))
	}
	fmt.Println("ready")
	select {
	case <-w.C():
		fmt.Printf("seen %d\n", time.Now().UnixNano())
	case <-ctx.Done():
		t.Fatal("no notification")
	}
}
