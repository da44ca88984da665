package nixcheck

import (
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// vendorHashLine finds the vendorHash attribute in nix/package.nix.
var vendorHashLine = regexp.MustCompile(`(?m)^\s*vendorHash\s*=\s*"([^"]*)";`)

// packageVendorHash returns the vendorHash that nix/package.nix declares.
func packageVendorHash(t testing.TB, root string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "nix", "package.nix"))
	require.NoError(t, err)
	m := vendorHashLine.FindAllSubmatch(data, -1)
	require.Len(t, m, 1, "nix/package.nix: want exactly one vendorHash = \"sha256-...\"; line")
	return string(m[0][1])
}

// vendorHash computes buildGoModule's vendorHash for the module at root:
// `go mod vendor -o DIR` (what nixpkgs' goModules derivation copies to its
// output) hashed as a NAR with `nix-hash --type sha256` (Nix 2.8 prints
// base16), in SRI form "sha256-<base64>".
func vendorHash(t testing.TB, root string) string {
	t.Helper()
	nixHash := requireTool(t, "nix-hash")
	dir := filepath.Join(t.TempDir(), "vendor")
	cmd := exec.Command("go", "mod", "vendor", "-o", dir)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go mod vendor: %s", out)
	stdout, stderr, err := runTool(nixHash, "--type", "sha256", dir)
	require.NoError(t, err, "nix-hash: %s", stderr)
	sum, err := hex.DecodeString(strings.TrimSpace(string(stdout)))
	require.NoError(t, err, "nix-hash printed %q", stdout)
	return "sha256-" + base64.StdEncoding.EncodeToString(sum)
}

// TestVendorHash: nix/package.nix's vendorHash is the NAR hash of `go mod
// vendor`, so a dependency change cannot leave the package unbuildable.
func TestVendorHash(t *testing.T) {
	root := repoRoot(t)
	got := packageVendorHash(t, root)
	want := vendorHash(t, root)
	if got != want {
		t.Fatalf("nix/package.nix has vendorHash = %q, but `go mod vendor` hashes to %q.\n"+
			"go.mod/go.sum changed: set\n\tvendorHash = %q;\nin nix/package.nix "+
			"(scripts/nix/vendor-hash.sh prints it).", got, want, want)
	}
}
