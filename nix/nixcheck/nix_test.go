package nixcheck

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/real/realtest"
)

// EnvNixpkgsLib names nixpkgs' lib/ directory when it is not at
// ../shared/nixpkgs-lib/lib relative to the repository root.
const EnvNixpkgsLib = "NIXFLEET_NIXPKGS_LIB"

// nixTimeout bounds one nix-instantiate or nix-hash run (each takes under a
// second here).
const nixTimeout = time.Minute

// unavailable skips t, or fails it under realtest.Strict (CI=true or
// NIXFLEET_REQUIRE_REAL=1), because something the check needs is missing.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if realtest.Strict() {
		t.Fatalf("required ("+realtest.EnvCI+"=true or "+realtest.EnvRequireReal+"=1) but unavailable: "+format, args...)
	}
	t.Skipf("unavailable: "+format, args...)
}

// requireTool returns the path of program on PATH, or ends t (unavailable).
func requireTool(t testing.TB, program string) string {
	t.Helper()
	path, err := exec.LookPath(program)
	if err != nil {
		unavailable(t, "%s not on PATH (scripts/real/setup.sh installs nix-bin)", program)
	}
	return path
}

// repoRoot returns the repository root (the directory holding go.mod).
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := realtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// nixpkgsLib returns nixpkgs' lib/ directory: $NIXFLEET_NIXPKGS_LIB, else
// ../shared/nixpkgs-lib/lib relative to the repository root; ends t
// (unavailable) when it holds no default.nix.
func nixpkgsLib(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(EnvNixpkgsLib)
	if dir == "" {
		dir = filepath.Join(repoRoot(t), "..", "shared", "nixpkgs-lib", "lib")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(abs, "default.nix")); err != nil {
		unavailable(t, "nixpkgs lib not found at %s (set %s)", abs, EnvNixpkgsLib)
	}
	return abs
}

// runTool runs argv with a timeout and returns its stdout, stderr and error
// (an *exec.ExitError for a non-zero exit).
func runTool(argv ...string) (stdout, stderr []byte, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), nixTimeout)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.Bytes(), errOut.Bytes(), err
}

// nixFiles lists the repository's tracked-or-not .nix files (skipping .git,
// vendor and hidden directories), relative to root.
func nixFiles(t testing.TB, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != root && (strings.HasPrefix(name, ".") || name == "vendor") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(name, ".nix") {
			rel, _ := filepath.Rel(root, path)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestNixFilesParse: every .nix file of the repository parses with Nix 2.8's
// parser (nix-instantiate --parse), and the ones this package knows exist.
func TestNixFilesParse(t *testing.T) {
	nixInstantiate := requireTool(t, "nix-instantiate")
	root := repoRoot(t)
	files := nixFiles(t, root)
	for _, want := range []string{"flake.nix", "default.nix", "nix/package.nix", "nix/module.nix",
		"nix/tests/vm.nix", "nix/tests/stubs.nix", "nix/tests/eval.nix"} {
		if !slices.Contains(files, want) {
			t.Errorf("%s is missing", want)
		}
	}
	for _, f := range files {
		_, stderr, err := runTool(nixInstantiate, "--parse", filepath.Join(root, f))
		if err != nil {
			t.Errorf("%s does not parse: %v\n%s", f, err, stderr)
		}
	}
}
