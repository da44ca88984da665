package testscripts

import (
	"errors"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Result is what RunFiles reports of one scenario.
type Result struct {
	// Name is testscript's name for the script: the file's base name
	// without .txtar (a "#N" suffix tells apart equal base names).
	Name, File string
	Failed     bool
	Skipped    bool // the script ran `skip`
	// FailedCommand is the script line that failed, as the script spells
	// it ("" when none failed or the failure came before any line);
	// FailedAt is testscript's failure line, "FILE:LINE: MESSAGE".
	FailedCommand, FailedAt string
	// Log is the script's log as testscript prints it on a failure (the
	// lines run, their output, the failure); "" for a script that passed.
	Log string
	// Virtual is the virtual time the script's host went through; Wall the
	// wall-clock time the script took (set-up included).
	Virtual, Wall time.Duration
}

// RunFiles runs the scenario files one after the other, each on a fresh
// simulated host, outside `go test` (no Go toolchain needed), and returns
// their results in the order given; a file without a command line is a
// failed result (an empty or truncated scenario). Errors: testscript could not start
// (no file given, a temporary directory that cannot be made).
func RunFiles(files []string, opts Options) (results []Result, err error) {
	if len(files) == 0 {
		return nil, errors.New("no scenario files")
	}
	r := newRecordT()
	p := params("", opts, r.keepWorld)
	p.Files = files
	defer func() {
		// RunT reports its own trouble through T.Fatal, outside any script.
		if p := recover(); p != nil {
			stopped(p)
			err = errors.New(strings.TrimSpace(r.log("")))
		}
	}()
	testscript.RunT(r, p)
	for i, name := range r.order {
		res := r.result(name, files[i])
		if err := checkHasCommands(files[i]); err != nil {
			res.Failed, res.FailedAt, res.Log = true, err.Error(), "FAIL: "+err.Error()+"\n"
		}
		results = append(results, res)
	}
	return results, nil
}

// result is the Result of the named script.
func (r *recordT) result(name, file string) Result {
	res := Result{Name: name, File: file, Failed: r.failed[name], Skipped: r.skipped[name], Wall: r.wall[name]}
	if w := r.worlds[name]; w != nil {
		res.Virtual = w.h.Elapsed()
	}
	if res.Failed {
		res.Log = r.log(name)
		res.FailedCommand, res.FailedAt = failedLine(res.Log)
	}
	return res
}

// failedLine finds, in a failed script's log, testscript's "FAIL:" line
// and the script line that ran last before it (logged as "> LINE").
func failedLine(log string) (command, at string) {
	lines := strings.Split(log, "\n")
	for i, l := range lines {
		failure, ok := strings.CutPrefix(strings.TrimSpace(l), "FAIL: ")
		if !ok {
			continue
		}
		at = failure
		for j := i - 1; j >= 0; j-- {
			if cmd, ok := strings.CutPrefix(strings.TrimSpace(lines[j]), "> "); ok {
				return cmd, at
			}
		}
		return "", at
	}
	return "", ""
}
