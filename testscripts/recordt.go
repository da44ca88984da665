package testscripts

import (
	"fmt"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// recordT is a testscript.T for running scripts outside `go test`: it runs
// testscript's subtests synchronously on the caller's goroutine and
// records, per script, whether it failed or was skipped, its log, its
// wall time and its world. RunFiles (the binary's `scenario run`), the
// harness tests and the benchmark use it.
type recordT struct {
	failed, skipped map[string]bool
	logs            map[string]*strings.Builder
	wall            map[string]time.Duration
	worlds          map[string]*world
	// order lists the scripts in the order they ran.
	order []string
	name  string
}

var _ testscript.T = (*recordT)(nil)

func newRecordT() *recordT {
	return &recordT{failed: map[string]bool{}, skipped: map[string]bool{}, logs: map[string]*strings.Builder{},
		wall: map[string]time.Duration{}, worlds: map[string]*world{}}
}

// stopScript is what FailNow and Skip panic with; Run recovers it.
type stopScript struct{}

func (r *recordT) Skip(args ...any) { r.Log(args...); r.skipped[r.name] = true; panic(stopScript{}) }
func (r *recordT) Fatal(args ...any) {
	r.Log(args...)
	r.FailNow()
}
func (r *recordT) Parallel() {}
func (r *recordT) Log(args ...any) {
	if r.logs[r.name] == nil {
		r.logs[r.name] = &strings.Builder{}
	}
	fmt.Fprintln(r.logs[r.name], args...)
}
func (r *recordT) FailNow()      { r.failed[r.name] = true; panic(stopScript{}) }
func (r *recordT) Verbose() bool { return false }

// Run runs f as the named script, times it and recovers its FailNow.
func (r *recordT) Run(name string, f func(testscript.T)) {
	r.name = name
	r.order = append(r.order, name)
	start := time.Now()
	defer func() {
		r.wall[name] = time.Since(start)
		stopped(recover())
	}()
	f(r)
}

// stopped re-panics p unless it is nil or a stopScript.
func stopped(p any) {
	if p == nil {
		return
	}
	if _, ok := p.(stopScript); !ok {
		panic(p)
	}
}

// keepWorld is the Setup hook that remembers the running script's world.
func (r *recordT) keepWorld(w *world) { r.worlds[r.name] = w }

// log returns a script's log.
func (r *recordT) log(name string) string {
	if b := r.logs[name]; b != nil {
		return b.String()
	}
	return ""
}
