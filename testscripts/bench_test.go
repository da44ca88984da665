package testscripts

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// wholeBudgetScenario spends the whole 300 s poll budget: the switch never
// flips the link and never ends.
const wholeBudgetScenario = "current_never-flips"

// BenchmarkWholeBudgetScenario runs the scenario that spends the whole
// 300 s poll budget through testscript, as `go test` runs it (work
// directory, host set-up, 150 polls, assertions, command log), and reports
// the virtual seconds it covers. The goal is under 5 ms of wall time per
// run.
func BenchmarkWholeBudgetScenario(b *testing.B) {
	p := suiteParams()
	p.Dir, p.Files, p.UpdateScripts = "", []string{filepath.Join("testdata", wholeBudgetScenario+".txtar")}, false
	cpuStart := cpuTime(b)
	for b.Loop() {
		r := newRecordT()
		testscript.RunT(r, p)
		if r.failed[wholeBudgetScenario] {
			b.Fatalf("scenario failed:\n%s", r.log(wholeBudgetScenario))
		}
	}
	// cpu-ns/op (user+system CPU of the process) stays meaningful when other
	// work on the machine inflates ns/op.
	b.ReportMetric(float64((cpuTime(b)-cpuStart).Nanoseconds())/float64(b.N), "cpu-ns/op")
	// The scenario pins its virtual time with `elapsed 300.275s`.
	b.ReportMetric(300.275, "virtual-s/op")
}

// cpuTime is the user+system CPU time the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
