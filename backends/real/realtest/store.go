package realtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// aliveMarker is how Nix 2.8 (Debian nix-bin) refuses `nix-store --delete`
// of a path that a gc root or a valid referrer keeps: "error: Cannot delete
// path '<p>' since it is still alive. To find out why, use: nix-store --query
// --roots".
const aliveMarker = "since it is still alive"

// globalProfiles holds the machine's own profiles; DeleteFromStore never
// removes a root there.
const globalProfiles = "/nix/var/nix/profiles/"

// DeleteFromStore makes storePath invalid in the local store so that a later
// `nix-store --realise` has to substitute it, then deletes the rest of its
// closure (kernel, initrd) where nothing else keeps those alive. It first
// removes the gc roots that keep storePath alive (`nix-store --query
// --roots`): result links and profile generation links a test created,
// including those of a profile the test still uses. It fails t rather than
// remove a root of the machine's own profiles (/nix/var/nix/profiles) or when
// a running process holds the path (a runtime root). A path that is already
// invalid is left alone.
func DeleteFromStore(t testing.TB, storePath string) {
	t.Helper()
	n := RequireNix(t)
	if n.Run(t, "nix-store", "--check-validity", storePath).ExitCode != 0 {
		return
	}
	closure := strings.Fields(n.MustRun(t, "nix-store", "--query", "--requisites", storePath))
	dropRoots(t, n, storePath)
	n.MustRun(t, "nix-store", "--delete", storePath)
	for _, p := range closure {
		if p == storePath {
			continue
		}
		res := n.Run(t, "nix-store", "--delete", p)
		if res.ExitCode != 0 && !strings.Contains(string(res.Stderr), aliveMarker) {
			t.Fatalf("nix-store --delete %s: exit %d\n%s", p, res.ExitCode, res.Stderr)
		}
	}
}

// dropRoots removes the link of every gc root that keeps storePath alive.
// `nix-store --query --roots` prints "<link> -> <store path>" lines.
func dropRoots(t testing.TB, n *Nix, storePath string) {
	t.Helper()
	out := n.MustRun(t, "nix-store", "--query", "--roots", storePath)
	for _, line := range strings.Split(out, "\n") {
		link, _, ok := strings.Cut(line, " -> ")
		if !ok {
			continue
		}
		switch {
		case !filepath.IsAbs(link) || strings.HasPrefix(link, "/proc/"):
			t.Fatalf("%s is held by a running process (root %s)", storePath, link)
		case strings.HasPrefix(link, globalProfiles):
			t.Fatalf("%s is held by the machine's profile %s; refusing to remove it", storePath, link)
		}
		if err := os.Remove(link); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
}
