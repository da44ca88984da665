package testscripts

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// update rewrites README.md from the registry and the scripts' golden
// files from their `cmp` commands.
var update = flag.Bool("update", false, "rewrite README.md and the scenarios' golden files")

// binaryPath is the nixfleet-activate binary TestMain builds for `cli` and
// `exec nixfleet-activate`.
var binaryPath string

// TestMain builds cmd/nixfleet-activate once for every script.
//
// GOTCHA: testscript.Main needs the binary's main as an importable func;
// cmd/nixfleet-activate is package main, so the binary is built with
// `go build` instead and put on the scripts' PATH.
func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "nixfleet-testscripts-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if binaryPath, err = buildBinary(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildBinary builds the command into dir.
func buildBinary(dir string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	out := filepath.Join(dir, "nixfleet-activate")
	build := exec.Command(goTool, "build", "-o", out, "github.com/nixfleet/nixfleet-activate/cmd/nixfleet-activate")
	if msg, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building nixfleet-activate: %v\n%s", err, msg)
	}
	return out, nil
}

// suiteOptions run the repository's own suite: `cli` and `exec` use the
// binary TestMain built.
func suiteOptions() Options {
	return Options{CLI: ExecCLI(binaryPath), BinDir: filepath.Dir(binaryPath), UpdateScripts: *update}
}

// suiteParams are the suite's testscript parameters.
func suiteParams() testscript.Params {
	return Params("testdata", suiteOptions())
}

// TestScripts runs every scenario under testdata/ through the package's
// own runner, as a fleet's Go test would (Run).
func TestScripts(t *testing.T) {
	Run(t, "testdata", suiteOptions())
}
