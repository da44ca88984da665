package nixcheck

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// packageExpr calls nix/package.nix with builders that return their
// arguments (and their own name), so the expression is checked without
// nixpkgs. withGo126 says whether buildGo126Module exists.
const packageExpr = `{ nixpkgsLib, root, withGo126 }:
let
  lib = import (/. + nixpkgsLib);
  builder = name: args: args // { builder = name; };
  p = import (/. + root + "/nix/package.nix") ({
    inherit lib;
    buildGoModule = builder "buildGoModule";
    version = "1.2.3";
  } // lib.optionalAttrs (withGo126 == "yes") { buildGo126Module = builder "buildGo126Module"; });
in {
  inherit (p) builder pname version vendorHash subPackages ldflags doInstallCheck;
  cgo = p.env.CGO_ENABLED;
  checkRunsGoTest = lib.hasInfix "go test -count=1 ./..." p.checkPhase;
  installCheckRunsVersion = lib.hasInfix "--version" p.installCheckPhase;
}`

// TestPackageExpression: nix/package.nix stamps the version with -ldflags
// -X main.version, builds the binary only, runs the Go tests in its check
// phase, prefers buildGo126Module (go.mod needs Go 1.26) and falls back to
// buildGoModule.
func TestPackageExpression(t *testing.T) {
	nixInstantiate := requireTool(t, "nix-instantiate")
	lib, root := nixpkgsLib(t), repoRoot(t)
	for withGo126, builder := range map[string]string{"yes": "buildGo126Module", "no": "buildGoModule"} {
		stdout, stderr, err := runTool(nixInstantiate, "--eval", "--strict", "--json", "-E", packageExpr,
			"--argstr", "nixpkgsLib", lib, "--argstr", "root", root, "--argstr", "withGo126", withGo126)
		require.NoError(t, err, "%s", stderr)
		var got map[string]any
		require.NoError(t, json.Unmarshal(stdout, &got), "%s", stdout)
		assert.Equal(t, map[string]any{
			"builder":                 builder,
			"pname":                   "nixfleet-activate",
			"version":                 "1.2.3",
			"vendorHash":              packageVendorHash(t, root),
			"subPackages":             []any{"cmd/nixfleet-activate"},
			"ldflags":                 []any{"-s", "-w", "-X main.version=1.2.3"},
			"doInstallCheck":          true,
			"cgo":                     float64(0),
			"checkRunsGoTest":         true,
			"installCheckRunsVersion": true,
		}, got)
	}
}

// TestVersionStamp: the -X flag nix/package.nix passes reaches the binary
// (a renamed or moved version variable would leave "dev" silently).
func TestVersionStamp(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "nixfleet-activate")
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version=1.2.3", "-o", bin, "./cmd/nixfleet-activate")
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	stdout, stderr, err := runTool(bin, "--version")
	require.NoError(t, err, "%s", stderr)
	assert.Equal(t, "nixfleet-activate 1.2.3\n", string(stdout))
}
