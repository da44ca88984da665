package testscripts

import (
	"fmt"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// recordT runs testscript's subtests synchronously on the caller's
// goroutine and records, per script, whether it failed and its log. The
// harness tests and the benchmark use it to run scripts outside `go test`'s
// own subtests.
type recordT struct {
	failed map[string]bool
	logs   map[string]*strings.Builder
	name   string
}

func newRecordT() *recordT {
	return &recordT{failed: map[string]bool{}, logs: map[string]*strings.Builder{}}
}

// stopScript is what FailNow panics with; Run recovers it.
type stopScript struct{}

func (r *recordT) Skip(args ...any) { r.Log(args...); panic(stopScript{}) }
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

// Run runs f as the named script and recovers its FailNow.
func (r *recordT) Run(name string, f func(testscript.T)) {
	r.name = name
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(stopScript); !ok {
				panic(p)
			}
		}
	}()
	f(r)
}

// log returns a script's log.
func (r *recordT) log(name string) string {
	if b := r.logs[name]; b != nil {
		return b.String()
	}
	return ""
}
