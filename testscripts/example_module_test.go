package testscripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/backends/real/realtest"
)

// exampleModule is a Go module of its own whose go.mod replaces this
// repository by its relative path, as a fleet's module would require it.
var exampleModule = filepath.Join("..", "examples", "gotest-suite")

// TestExampleModuleRunsTheSuite runs `go test` in examples/gotest-suite:
// another module imports the package and runs the example fleet's suite
// through Run. It works offline from the module cache (`go mod download`
// of this module fills it); where the cache cannot serve the example (the
// Nix build's sandbox vendors instead) it skips, and fails under CI=true
// or NIXFLEET_REQUIRE_REAL=1. The example's go.mod and go.sum must be
// tidy: the run must not change them.
func TestExampleModuleRunsTheSuite(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH: the example module cannot be built")
	}
	if testing.Short() {
		t.Skip("-short: building another module takes seconds")
	}
	// GOTCHA: -mod=readonly, not -mod=mod: the latter rewrites an untidy
	// go.mod/go.sum in the checkout instead of failing.
	env := append(os.Environ(), "GOFLAGS=-mod=readonly", "GOPROXY=off", "GOWORK=off")
	before := moduleFiles(t)
	if out, err := goIn(goTool, env, "list", "-deps", "-test", "./..."); err != nil {
		if untidy(out) {
			t.Fatalf("the example's go.mod/go.sum are not tidy (run go mod tidy in examples/gotest-suite): %v\n%s", err, out)
		}
		if realtest.Strict() {
			t.Fatalf("the module cache cannot serve the example module (run go mod download): %v\n%s", err, out)
		}
		t.Skipf("the module cache cannot serve the example module (run go mod download): %v\n%s", err, out)
	}
	out, err := goIn(goTool, env, "test", "-count=1", "-v", "./...")
	require.NoError(t, err, out)
	for _, name := range []string{"db-restart-fits-budget", "failed-switch-restores", "kernel-bump-defers", "rotated-key-refused"} {
		assert.Contains(t, out, "--- PASS: TestFleetSuite/"+name+" ")
	}
	assert.Equal(t, before, moduleFiles(t), "go.mod and go.sum of the example are tidy and complete")
}

// goIn runs the go tool in the example module.
func goIn(goTool string, env []string, args ...string) (string, error) {
	cmd := exec.Command(goTool, args...)
	cmd.Dir, cmd.Env = exampleModule, env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// moduleFiles reads the example's go.mod and go.sum.
func moduleFiles(t *testing.T) string {
	t.Helper()
	var all string
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(exampleModule, f))
		require.NoError(t, err)
		all += string(data)
	}
	return all
}

// untidy reports whether the go tool refused the example module because its
// go.mod or go.sum lacks an entry (Go 1.16+ wording), as opposed to a
// module cache that cannot serve it.
func untidy(out string) bool {
	return strings.Contains(out, "missing go.sum entry") || strings.Contains(out, "updates to go.mod needed")
}
