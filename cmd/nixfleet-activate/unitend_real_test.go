package main

// Issue 13, the end of the switch's unit: a D-Bus subscription to the
// unit's properties on systemd's private socket against `systemctl show`
// on a short backoff, measured side by side on the same units in the
// container (see e2e_real_test.go for the set-up), then the chosen one
// through the binary.

import (
	"context"
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

	"github.com/nixfleet/nixfleet-activate/backends/real/realtest"
)

// childCPU is the user+system CPU time of this process's waited-for
// children so far (getrusage RUSAGE_CHILDREN).
func childCPU(t testing.TB) time.Duration {
	var ru syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backoffUntilEnded reads unit's SubState with `systemctl show` (through
// nsenter) 10 ms after start, then doubling up to 50 ms, until the main
// process has ended; it returns when it saw that and how many reads it
// took (pipeline's unitBackoffFirst and unitBackoffMax).
func (h *host) backoffUntilEnded(t testing.TB, unit string) (seen time.Time, reads int) {
	d := 10 * time.Millisecond
	for {
		time.Sleep(d)
		d = min(2*d, 50*time.Millisecond)
		stdout, _, _, err := h.box.Exec(context.Background(), "systemctl", "show", "--value", "--property=SubState", "--", unit+".service")
		reads++
		if err == nil && strings.TrimSpace(stdout) != "running" {
			return time.Now(), reads
		}
	}
}

// buildProbe builds the events package's test binary (its
// TestUnitEndProbe follows a unit's end over D-Bus) into dir, static, so
// that it runs in the container.
func buildProbe(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin", "events.test")
	cmd := exec.Command("go", "test", "-c", "-o", bin, "../../events")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go test -c: %s", out)
	return bin
}

// probeUnitEnd starts the probe on unit in the container and returns once
// it is subscribed; the returned function waits for the time it saw the
// unit's end.
func (h *host) probeUnitEnd(t *testing.T, probe, unit string) func() time.Time {
	t.Helper()
	t.Setenv("NIXFLEET_UNIT_END_PROBE", unit) // nsenter passes this process's environment on
	p := h.box.Start(t, probe, "-test.run", "^TestUnitEndProbe$", "-test.v")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		out, errOut := p.Output()
		if strings.Contains(out, "ready") {
			break
		}
		if time.Now().After(deadline) {
			_ = p.Signal(syscall.SIGQUIT)
			<-p.Done()
			out, errOut = p.Output()
			t.Fatalf("the probe did not subscribe:\n%s\n%s", out, errOut)
		}
	}
	return func() time.Time {
		ended := h.wait(t, p)
		_, after, ok := strings.Cut(ended.Stdout, "seen ")
		require.True(t, ok, "%s\n%s", ended.Stdout, ended.Stderr)
		ns, err := strconv.ParseInt(strings.Fields(after)[0], 10, 64)
		require.NoError(t, err)
		return time.Unix(0, ns)
	}
}

// TestRealUnitEndLatency: 20 transient units (sh: sleep 0.6 s, exit 1, as
// a failed switch) followed at once by both mechanisms: events.OS's D-Bus
// subscription (in a probe inside the container: buildProbe) and a `systemctl show` poll on the 10-50 ms backoff (through
// nsenter, whose bare start is measured and logged to be taken off).
// Logged: unit exit (ExecMainExitTimestampMonotonic) to each one's
// observation, p50 and p95, and the backoff's reads and CPU per second of
// waiting. Then 20 failed switches through the binary (2 s interval,
// events on): exit to the "unit ended without the flip" record. Asserted
// loosely: the subscription starts, and a failed switch is decided well
// within the 2 s interval.
func TestRealUnitEndLatency(t *testing.T) {
	n := realtest.RequireNix(t)
	realtest.RequireContainer(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	closure := closureBuilder(t, root)
	old := closure("ue-old", realtest.ClosureOpts{})
	failing := closure("ue-fail", realtest.ClosureOpts{NeverFlip: true, ExitCode: 1, FlipDelay: 600 * time.Millisecond})
	h := bootHost(t, n, dir, old)
	probe := buildProbe(t, dir)
	const runs = 20

	bare := time.Now()
	for range 10 {
		_, _, _, err := h.box.Exec(context.Background(), "true")
		require.NoError(t, err)
	}
	nsenterCost := time.Since(bare) / 10

	var viaBus, viaBackoff []time.Duration
	var reads int
	var backoffCPU, waited time.Duration
	for i := range runs {
		unit := "ue-" + strconv.Itoa(i)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, stderr, exit, err := h.box.Exec(ctx, "systemd-run", "--unit="+unit, "--remain-after-exit",
			"--service-type=exec", "--", "/bin/sh", "-c", "sleep 0.6; exit 1")
		require.NoError(t, err)
		require.Equal(t, 0, exit, stderr)
		seen := h.probeUnitEnd(t, probe, unit)
		started := time.Now()
		cpu0 := childCPU(t)
		polled := make(chan time.Time, 1)
		go func() {
			at, n := h.backoffUntilEnded(t, unit)
			reads += n
			polled <- at
		}()
		pollAt := <-polled
		backoffCPU += childCPU(t) - cpu0
		waited += pollAt.Sub(started)
		busAt := seen()
		cancel()
		exited := time.Now().Add(h.unitExitedAt(t, unit) - monotonicNow(t))
		viaBus = append(viaBus, busAt.Sub(exited))
		viaBackoff = append(viaBackoff, pollAt.Sub(exited))
	}
	t.Logf("unit exit -> D-Bus signal seen: p50 %s p95 %s; -> systemctl show backoff: p50 %s p95 %s (nsenter's own start %s, included); "+
		"backoff: %.1f reads/s and %.1f ms CPU/s of waiting (%d runs, load %s)",
		percentile(viaBus, 0.5), percentile(viaBus, 0.95), percentile(viaBackoff, 0.5), percentile(viaBackoff, 0.95),
		nsenterCost, float64(reads)/waited.Seconds(), float64(backoffCPU.Microseconds())/1000/waited.Seconds(), runs, loadAvg())

	key := h.cache.PublicKey()
	args := []string{"--poll-interval", "2s", "--poll-budget", "60s", "--log-format", "json", "activate", failing}
	var decided []time.Duration
	for i := range runs {
		stdout, stderr, exit := h.run(t, key, args...)
		require.Equal(t, ExitSwitchFailed, exit, "%s\n%s", stdout, stderr)
		seen, ok := logTimes(t, stderr)["unit ended without the flip"]
		require.True(t, ok, stderr)
		exited := time.Now().Add(h.unitExitedAt(t, e2eSwitchUnit) - monotonicNow(t))
		decided = append(decided, seen.Sub(exited))
		t.Logf("run %d: failed switch decided %s after its exit", i, seen.Sub(exited))
	}
	t.Logf("failed switch, unit exit -> decision through the binary: p50 %s p95 %s (%d runs, 2 s interval)",
		percentile(decided, 0.5), percentile(decided, 0.95), runs)
	assert.Less(t, percentile(decided, 0.95), time.Second, "decided on the unit's D-Bus signal, not at the next 2 s poll")
}
