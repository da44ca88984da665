package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/backends/real/realtest"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// BenchmarkBinaryRealActivation gives the figures of one real activation
// (realise from a signed file:// cache + nix-env --set + systemd-run fire +
// settle) on real Nix 2.8 and systemd 252 (see e2e_real_test.go). Each
// iteration activates the same closure once through the binary and once
// through scripts/real/plain-activate.sh, which runs the same commands
// (the realise with its GC root too) with the same poll interval (100 ms),
// and once more through the binary with --poll-only, the three in one of
// their six orders (runOrders, in turn), after
// one uncounted warm-up round. Before each run the closure is deleted from
// the store, current-system points back at the old closure and the profile
// is a fresh one. All run inside the container through nsenter, timed from
// this process. Reported, as medians over the iterations (other work on the
// machine makes single runs vary by tens of percent) unless marked maximum:
//
//	binary-ms       wall time of the binary's run (nsenter included)
//	script-ms       wall time of the script's run (nsenter included)
//	binary/script   the binary's wall time over the script's, per
//	                iteration: the binary's own share
//	poll-only/script  the same for the binary run with --poll-only (no
//	                event watch), run right after it (issue 13)
//	...-p95         the 95th percentile of the two ratios
//	outcome-ms      the binary's own elapsed_ms (start of the pipeline to
//	                the outcome)
//	peak-rss-KB     maximum of the binary's peak RSS: the highest VmHWM of
//	                its /proc/PID/status, sampled every millisecond from
//	                this process while it runs (its children excluded; low
//	                by at most the growth of its last millisecond)
//	tree-maxrss-KB  maximum of wait4's ru_maxrss of nsenter: the largest of
//	                nsenter, the binary and every child the binary waited
//	                for (nix-store, nix-env, systemctl, systemd-run)
//
// Run: go test -run '^$' -bench BinaryRealActivation -benchtime 10x
// ./cmd/nixfleet-activate (scripts/real/figures.sh).
func BenchmarkBinaryRealActivation(b *testing.B) {
	n := realtest.RequireNix(b)
	realtest.RequireContainer(b)
	dir := b.TempDir()
	root := filepath.Join(dir, "root")
	variant := e2eVariant(b, "")
	old := buildClosure(b, realtest.ClosureOpts{Variant: variant + "old", TestRoot: root})
	target := buildClosure(b, realtest.ClosureOpts{Variant: variant + "new", TestRoot: root})
	h := bootHost(b, n, dir, old)
	// LOADBEARING: measured runs are not recorded: --record wraps every
	// file, clock and command call and writes a transcript at exit, which
	// a production run does not pay and the script has no counterpart for.
	h.stopRecording()
	h.cache.Publish(b, target)
	script := copyPlainScript(b, dir)

	var binary, polled, shell, outcome []time.Duration
	var peakRSS, treeRSS int64
	// Iteration -1 warms the caches (page cache, the container's first
	// units) and is not counted.
	for i := -1; i < b.N; i++ {
		if i == 0 {
			binary, polled, shell, outcome = nil, nil, nil, nil
			b.ResetTimer()
		}
		runBinaryWith := func(name string, walls *[]time.Duration, extra ...string) {
			profile := h.freshProfile(b, old, target, fmt.Sprintf("%s-%d", name, i))
			args := append(append([]string{"--profile", profile}, extra...), "activate", target)
			// GOTCHA: only the event-driven run's RSS is sampled: the
			// sampler reads /proc every millisecond on a 2-core machine, and
			// the poll-only run and the script are compared unobserved.
			m := h.measure(b, name == "bin", h.argv(h.cache.PublicKey(), args...)...)
			var out pipeline.Outcome
			require.NoError(b, json.Unmarshal(m.stdout, &out), "%s\n%s", m.stdout, m.stderr)
			require.Equal(b, pipeline.Settled, out.Kind, "%s", m.stdout)
			*walls = append(*walls, m.wall)
			if name == "bin" {
				outcome = append(outcome, time.Duration(out.ElapsedMS)*time.Millisecond)
			}
			peakRSS, treeRSS = max(peakRSS, m.peakRSS), max(treeRSS, m.treeRSS)
		}
		runEvents := func() { runBinaryWith("bin", &binary) }
		// Issue 13: the same run with the event watch off.
		runPolled := func() { runBinaryWith("poll", &polled, "--poll-only") }
		runScript := func() {
			profile := h.freshProfile(b, old, target, fmt.Sprintf("sh-%d", i))
			gcRoot := filepath.Join(dir, "script-gcroots", filepath.Base(target))
			m := h.measure(b, false, "/bin/sh", script, target, profile, h.currentSystem(), e2eSwitchUnit,
				"0.1", "50", h.cache.URL(), h.cache.PublicKey(), gcRoot)
			require.Equal(b, 0, m.exit, "%s\n%s", m.stdout, m.stderr)
			// Untimed: the next freshProfile deletes target from the store,
			// which a live root would refuse.
			require.NoError(b, os.Remove(gcRoot))
			require.Equal(b, target, h.link("run/current-system"))
			shell = append(shell, m.wall)
		}
		// GOTCHA: the iterations cycle through all six orders of the three
		// runs, so each run follows each other one equally often. A
		// rotation (i+1 mod 3) kept one cyclic order, in which the
		// poll-only run came right after the event-driven one in two
		// iterations of three and the script never did; a run right after
		// another pays for what that one left behind (systemd still
		// dropping its D-Bus subscription, the journal commit of its writes).
		for _, k := range runOrders[(i+len(runOrders))%len(runOrders)] {
			[]func(){runScript, runEvents, runPolled}[k]()
		}
	}
	b.StopTimer()
	ratios := make([]time.Duration, len(binary))
	pollRatios := make([]time.Duration, len(binary))
	for i := range binary {
		// In thousandths, so the median helper can sort durations.
		ratios[i] = binary[i] * 1000 / shell[i]
		pollRatios[i] = polled[i] * 1000 / shell[i]
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(median(binary)), "binary-ms")
	b.ReportMetric(ms(median(shell)), "script-ms")
	b.ReportMetric(float64(median(ratios))/1000, "binary/script")
	b.ReportMetric(float64(median(pollRatios))/1000, "poll-only/script")
	b.ReportMetric(float64(percentile(ratios, 0.95))/1000, "binary/script-p95")
	b.ReportMetric(float64(percentile(pollRatios, 0.95))/1000, "poll-only/script-p95")
	b.ReportMetric(ms(median(outcome)), "outcome-ms")
	b.ReportMetric(float64(peakRSS), "peak-rss-KB")
	b.ReportMetric(float64(treeRSS), "tree-maxrss-KB")
	b.Logf("binary ms %v\npoll-only ms %v\nscript ms %v", binary, polled, shell)
}

// runOrders are the six orders of the benchmark's three runs (script,
// events, poll-only), one per iteration in turn.
var runOrders = [][3]int{{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {0, 2, 1}, {2, 1, 0}, {1, 0, 2}}

// median returns the middle value of ds (the mean of the two middle ones for
// an even count); ds is sorted in place.
func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2]
	}
	return (ds[n/2-1] + ds[n/2]) / 2
}

// copyPlainScript copies scripts/real/plain-activate.sh into dir, which the
// container sees.
func copyPlainScript(b *testing.B, dir string) string {
	b.Helper()
	repo, err := realtest.RepoRoot()
	require.NoError(b, err)
	data, err := os.ReadFile(filepath.Join(repo, "scripts", "real", "plain-activate.sh"))
	require.NoError(b, err)
	script := filepath.Join(dir, "plain-activate.sh")
	require.NoError(b, os.WriteFile(script, data, 0o755))
	return script
}

// freshProfile resets the host before one measured activation: target is
// deleted from the store (so it must be substituted again), current-system
// points at old, and a new, empty profile directory is returned.
func (h *host) freshProfile(b *testing.B, old, target, name string) string {
	b.Helper()
	realtest.DeleteFromStore(b, target)
	require.NoError(b, os.Remove(h.currentSystem()))
	require.NoError(b, os.Symlink(old, h.currentSystem()))
	dir := h.path(filepath.Join("profiles", name))
	require.NoError(b, os.MkdirAll(dir, 0o755))
	return filepath.Join(dir, "system")
}

// measurement is one command run inside the container.
type measurement struct {
	wall           time.Duration
	exit           int
	stdout, stderr []byte
	// peakRSS is the highest VmHWM (KiB) seen for nsenter's child;
	// treeRSS is wait4's ru_maxrss (KiB) of nsenter.
	peakRSS, treeRSS int64
}

// measure runs argv in the container (realtest's Container.Start: `nsenter
// -t PID1 -a --`, as its Runner does) and times it from here. With
// sampleRSS its peak RSS is sampled too (samplePeakRSS), else peakRSS is 0.
func (h *host) measure(b *testing.B, sampleRSS bool, argv ...string) measurement {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	p := h.box.Start(b, argv...)
	sampler := func() int64 { return 0 }
	if sampleRSS {
		sampler = samplePeakRSS(p.PID)
	}
	ended, err := p.Wait(ctx)
	wall := time.Since(start)
	peak := sampler()
	require.NoError(b, err, "%v", argv)
	m := measurement{wall: wall, exit: ended.Code, stdout: []byte(ended.Stdout), stderr: []byte(ended.Stderr), peakRSS: peak}
	if ru, ok := ended.State.SysUsage().(*syscall.Rusage); ok {
		m.treeRSS = ru.Maxrss
	}
	return m
}

// samplePeakRSS polls, every millisecond until the returned function is
// called, the VmHWM of process pid, and the function returns the highest
// value in KiB (0 if none was read). VmHWM is the process's own peak
// resident set: it never decreases, starts afresh at execve and leaves out
// its children.
func samplePeakRSS(pid int) (stop func() int64) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var peak int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			peak = max(peak, vmHWM(strconv.Itoa(pid)))
			time.Sleep(time.Millisecond)
		}
	}()
	return func() int64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// vmHWM reads "VmHWM:  1234 kB" from /proc/PID/status; 0 when gone.
func vmHWM(pid string) int64 {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}
