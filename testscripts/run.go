package testscripts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// CLI runs the nixfleet-activate command line for the `cli` command: args
// without the program name, dir the script's work directory ($WORK), its
// output written to stdout and stderr. It returns the exit code; err is
// for a command line that could not run at all (no binary), never for a
// non-zero exit.
type CLI func(ctx context.Context, dir string, args []string, stdout, stderr io.Writer) (exit int, err error)

// Options configure a scenario run (Run, Params, RunFiles). The zero value
// is usable: `cli` then runs the nixfleet-activate found on PATH.
type Options struct {
	// CLI runs `cli` lines; nil: ExecCLI("nixfleet-activate"), looked up
	// on the process's PATH when a line runs.
	CLI CLI
	// BinDir, when set, is put first on each script's PATH, so that
	// `exec nixfleet-activate` finds the binary it holds.
	BinDir string
	// UpdateScripts rewrites the golden files that `cmp` compares with
	// inside a scenario (testscript's Params.UpdateScripts).
	UpdateScripts bool
}

// Run runs every scenario file (*.txtar) in dir as a subtest of t, each on
// a fresh simulated host; a file without a command line fails t (an empty
// or truncated scenario). It is the way to run a suite from a Go test of
// any module:
//
//	func TestFleet(t *testing.T) { testscripts.Run(t, "testdata", testscripts.Options{}) }
func Run(t *testing.T, dir string, opts Options) {
	t.Helper()
	for _, file := range scenarioFilesOf(dir) {
		if err := checkHasCommands(file); err != nil {
			t.Error(err)
		}
	}
	testscript.Run(t, Params(dir, opts))
}

// Params returns testscript's parameters for the scenarios in dir: the
// language's commands and conditions and a fresh simulated host per
// script. Set Files (and Dir to "") to run single files; pass the result
// to testscript.Run or testscript.RunT.
func Params(dir string, opts Options) testscript.Params {
	return params(dir, opts, nil)
}

// params is Params with a hook that sees each script's world once set up.
func params(dir string, opts Options, onWorld func(*world)) testscript.Params {
	return testscript.Params{
		Dir:                 dir,
		Setup:               setup(opts, onWorld),
		Cmds:                cmds(),
		Condition:           condition,
		UpdateScripts:       opts.UpdateScripts,
		RequireUniqueNames:  true,
		RequireExplicitExec: true,
	}
}

// setup gives each script a fresh simulated host, the options' CLI and
// BinDir first on PATH.
func setup(opts Options, onWorld func(*world)) func(*testscript.Env) error {
	return func(env *testscript.Env) error {
		w, err := newWorld()
		if err != nil {
			return err
		}
		w.cli = opts.CLI
		if w.cli == nil {
			w.cli = ExecCLI("nixfleet-activate")
		}
		env.Values[worldKey{}] = w
		if opts.BinDir != "" {
			env.Setenv("PATH", opts.BinDir+string(os.PathListSeparator)+env.Getenv("PATH"))
		}
		if onWorld != nil {
			onWorld(w)
		}
		return nil
	}
}

// ExecCLI returns a CLI that runs the binary program (a path, or a name
// looked up on PATH) in the script's work directory. Errors: the program
// cannot be found or started.
func ExecCLI(program string) CLI {
	return func(ctx context.Context, dir string, args []string, stdout, stderr io.Writer) (int, error) {
		path, err := exec.LookPath(program)
		if err != nil && filepath.Base(program) == program {
			return 0, fmt.Errorf("%w: install it (go install github.com/nixfleet/nixfleet-activate/cmd/nixfleet-activate@latest) or set Options.CLI", err)
		} else if err != nil {
			return 0, err
		}
		cmd := exec.CommandContext(ctx, path, args...)
		cmd.Dir, cmd.Stdout, cmd.Stderr = dir, stdout, stderr
		err = cmd.Run()
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return exitErr.ExitCode(), nil
		}
		return 0, err
	}
}
