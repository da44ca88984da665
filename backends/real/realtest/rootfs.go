package realtest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultRootFS is where scripts/real/rootfs.sh builds, and caches across
// runs, the Debian bookworm root filesystem the containers boot.
const DefaultRootFS = "/var/cache/nixfleet-activate/rootfs"

// EnvRootFS names a different root filesystem directory (built by
// scripts/real/rootfs.sh DIR).
const EnvRootFS = "NIXFLEET_ROOTFS"

// rootfsMarker is the file rootfs.sh writes last into a finished tree; its
// first line is rootfsFormat.
const rootfsMarker = ".nixfleet-rootfs-complete"

// rootfsFormat must match the format rootfs.sh builds; an older tree is
// rebuilt.
const rootfsFormat = "nixfleet-rootfs 2"

// rootfsScript is rootfs.sh relative to the repository root.
const rootfsScript = "scripts/real/rootfs.sh"

// rootfsBuildTimeout bounds a rootfs build (about 2.5 min on the reference
// machine).
const rootfsBuildTimeout = 15 * time.Minute

// RootFS returns the root filesystem directory: $NIXFLEET_ROOTFS or
// DefaultRootFS.
func RootFS() string {
	if dir := os.Getenv(EnvRootFS); dir != "" {
		return dir
	}
	return DefaultRootFS
}

var containerProbe struct {
	once   sync.Once
	rootfs string
	reason string
}

// RequireContainer returns the root filesystem for StartContainer when a
// systemd-nspawn container can be booted here: running as root, with
// systemd-nspawn and nsenter on PATH, and a finished root filesystem. A
// missing root filesystem is built first with scripts/real/rootfs.sh (found by
// walking up from the working directory to go.mod; ~2.5 min, logged). When
// anything is missing or the build fails it skips t, or fails it under Strict
// (CI=true or NIXFLEET_REQUIRE_REAL=1). The check runs once per test binary.
func RequireContainer(t testing.TB) string {
	t.Helper()
	containerProbe.once.Do(func() {
		containerProbe.rootfs, containerProbe.reason = probeContainer(t)
	})
	if containerProbe.rootfs == "" {
		unavailable(t, "%s", containerProbe.reason)
	}
	return containerProbe.rootfs
}

func probeContainer(t testing.TB) (rootfs, reason string) {
	if os.Geteuid() != 0 {
		return "", "not root: systemd-nspawn needs root"
	}
	for _, tool := range []string{"systemd-nspawn", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", tool + " not on PATH (scripts/real/setup.sh installs systemd-container)"
		}
	}
	dir := RootFS()
	if rootfsComplete(dir) {
		return dir, ""
	}
	if err := buildRootFS(t, dir); err != nil {
		return "", "building the container root filesystem: " + err.Error()
	}
	if !rootfsComplete(dir) {
		return "", rootfsScript + " finished but " + dir + " is not marked " + rootfsFormat
	}
	return dir, ""
}

// rootfsComplete reports whether dir holds a finished tree of the current
// format.
func rootfsComplete(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, rootfsMarker))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(data), "\n")
	return first == rootfsFormat
}

func buildRootFS(t testing.TB, dir string) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	t.Logf("realtest: building %s with %s (takes minutes, cached afterwards)", dir, rootfsScript)
	ctx, cancel := context.WithTimeout(context.Background(), rootfsBuildTimeout)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, filepath.Join(root, rootfsScript), dir).CombinedOutput()
	if err != nil {
		return errors.New(err.Error() + "\n" + tail(string(out), 4000))
	}
	t.Logf("realtest: root filesystem built in %v", time.Since(start).Round(time.Second))
	return nil
}

// RepoRoot returns the nearest directory at or above the working directory
// that holds go.mod (go test runs in the package's directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
