package realtest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ClosureOpts shapes a test system closure built by BuildClosure. Only
// TestRoot is required.
type ClosureOpts struct {
	// Host and Release name the closure "nixos-system-<Host>-<Release>"
	// (defaults "testhost" and "24.05"); both must be valid store-name
	// characters [A-Za-z0-9+._?=-].
	Host, Release string
	// Variant is an extra derivation attribute: closures that differ only in
	// Variant get distinct store paths. It is also written to $out/variant.
	Variant string
	// ExitCode is what switch-to-configuration exits with (0-255) after it
	// flipped, or did not flip, the current-system link.
	ExitCode int
	// FlipDelay is how long switch-to-configuration sleeps (real time,
	// millisecond resolution) before flipping the link; 0 means no sleep.
	FlipDelay time.Duration
	// NeverFlip makes switch-to-configuration leave the link alone.
	NeverFlip bool
	// NoSwitch leaves bin/switch-to-configuration out: a package-shaped
	// path, not a system (the agent must refuse it).
	NoSwitch bool
	// FlipGate, when set, is an absolute file name that
	// switch-to-configuration waits for (checking every 50 ms, after
	// FlipDelay, whatever the action) before it flips the link and exits: a
	// test holds the switch mid-run, deterministically, until it creates the
	// file (OpenGate). Inside a Container its directory must be bound, e.g.
	// a file under TestRoot.
	FlipGate string
	// KernelVersion names the kernel and initrd store paths ("linux-<v>",
	// "initrd-linux-<v>", default "6.1.0"). Closures with equal versions share
	// both paths, so `readlink kernel` compares equal; different versions give
	// different kernels, as a NixOS kernel upgrade would.
	KernelVersion string
	// SystemdVersion names the shared systemd store path "systemd-<v>"
	// (default "252") that the closure's "systemd" link points at, as in
	// NixOS; DbusVersion names the shared "dbus-<v>" path (default
	// "1.14.10") whose share/systemd/system/dbus.service the closure's
	// etc/systemd/system/dbus.service links to. Like the kernel, equal
	// versions give equal link targets, so a live switch between two
	// closures is possible; a different version makes the pipeline defer to
	// the next boot (pipeline.CriticalComponents).
	SystemdVersion, DbusVersion string
	// HealthExit, when not nil, makes the closure ship one health check
	// "web" (nixfleet-activate/health.json, timeout 10 s, and
	// nixfleet-activate/health-checks/web) that prints "web check exits N"
	// and exits *HealthExit (0-255) (issue 18).
	HealthExit *int
	// TestRoot is the absolute directory standing for "/" of the host under
	// test: switch-to-configuration flips TestRoot/run/current-system and
	// appends "<action> <closure>" lines to TestRoot/run/switch-to-configuration.log.
	// Inside a Container, bind it at the same path (ContainerOpts.Binds).
	TestRoot string
}

// SwitchLog is the file, relative to ClosureOpts.TestRoot, to which every
// switch-to-configuration run appends "<action> <closure path>\n".
const SwitchLog = "run/switch-to-configuration.log"

// storeName matches the characters Nix allows in a store path's name part.
var storeName = regexp.MustCompile(`^[A-Za-z0-9+._?=-]+$`)

// closureExpr is a function of string arguments (passed with --argstr) that
// builds the system closure and its shared component paths (kernel, initrd,
// systemd, dbus) without nixpkgs.
const closureExpr = `
{ host, release, variant, kernelVersion, systemdVersion, dbusVersion, systemScript, partScript,
  exitCode, flipDelay, neverFlip, flipGate, testRoot, noSwitch, healthExit }:
let
  part = name: file: derivation {
    inherit name file;
    system = "x86_64-linux";
    builder = "/bin/sh";
    args = [ "-c" partScript ];
  };
in derivation {
  name = "nixos-system-" + host + "-" + release;
  system = "x86_64-linux";
  builder = "/bin/sh";
  args = [ "-c" systemScript ];
  kernel = part ("linux-" + kernelVersion) "bzImage";
  initrd = part ("initrd-linux-" + kernelVersion) "initrd";
  systemd = part ("systemd-" + systemdVersion) "lib/systemd/systemd";
  dbus = part ("dbus-" + dbusVersion) "share/systemd/system/dbus.service";
  inherit host release variant exitCode flipDelay neverFlip flipGate testRoot noSwitch healthExit;
}
`

// partScript builds a shared component path (kernel, initrd, systemd,
// dbus): $out/$file holding one line that depends only on the name, which
// carries the version. Closures built with equal versions therefore share
// the path.
const partScript = `set -eu
PATH=/usr/bin:/bin
mkdir -p "$(dirname "$out/$file")"
printf '%s\n' "$name" > "$out/$file"
`

// systemScript builds the system path. The generated switch-to-configuration
// follows NixOS semantics for the link: "switch" and "test" activate (flip
// run/current-system), "boot" and "dry-activate" do not; any other action is
// a usage error (exit 1), as in NixOS. testRoot, flipDelay, neverFlip,
// flipGate and exitCode are validated by ClosureOpts.validate, so quoting
// them in single quotes is safe.
const systemScript = `set -eu
PATH=/usr/bin:/bin
mkdir -p "$out/bin" "$out/etc/systemd/system" "$out/sw/lib/systemd"
ln -s "$kernel/bzImage" "$out/kernel"
ln -s "$initrd/initrd" "$out/initrd"
ln -s "$systemd" "$out/systemd"
ln -s "$systemd/lib/systemd/systemd" "$out/sw/lib/systemd/systemd"
ln -s "$dbus/share/systemd/system/dbus.service" "$out/etc/systemd/system/dbus.service"
printf '%s\n' "$release" > "$out/nixos-version"
printf '%s\n' "$variant" > "$out/variant"
cat > "$out/bin/switch-to-configuration" <<END_OF_SCRIPT
#!/bin/sh
# Test stand-in for NixOS's switch-to-configuration.
PATH=/usr/bin:/bin
action=\${1:-}
case "\$action" in
switch|test|boot|dry-activate) ;;
*) echo "Usage: switch-to-configuration [switch|boot|test|dry-activate]" >&2; exit 1 ;;
esac
mkdir -p '$testRoot/run'
echo "\$action $out" >> '$testRoot/run/switch-to-configuration.log'
if [ '$flipDelay' != 0 ]; then sleep '$flipDelay'; fi
if [ -n '$flipGate' ]; then while [ ! -e '$flipGate' ]; do sleep 0.05; done; fi
case "\$action" in
switch|test) if [ '$neverFlip' != 1 ]; then ln -sfn '$out' '$testRoot/run/current-system'; fi ;;
esac
exit $exitCode
END_OF_SCRIPT
chmod +x "$out/bin/switch-to-configuration"
if [ "$noSwitch" = 1 ]; then rm "$out/bin/switch-to-configuration"; fi
if [ -n "$healthExit" ]; then
  mkdir -p "$out/nixfleet-activate/health-checks"
  printf '{"checks":[{"name":"web","timeout_s":10}]}\n' > "$out/nixfleet-activate/health.json"
  printf '#!/bin/sh\necho "web check exits %s"\nexit %s\n' "$healthExit" "$healthExit" > "$out/nixfleet-activate/health-checks/web"
  chmod +x "$out/nixfleet-activate/health-checks/web"
fi
`

func (o ClosureOpts) withDefaults() ClosureOpts {
	if o.Host == "" {
		o.Host = "testhost"
	}
	if o.Release == "" {
		o.Release = "24.05"
	}
	if o.KernelVersion == "" {
		o.KernelVersion = "6.1.0"
	}
	if o.SystemdVersion == "" {
		o.SystemdVersion = "252"
	}
	if o.DbusVersion == "" {
		o.DbusVersion = "1.14.10"
	}
	return o
}

func (o ClosureOpts) validate() error {
	for _, f := range []struct{ field, value string }{
		{"Host", o.Host}, {"Release", o.Release}, {"KernelVersion", o.KernelVersion},
		{"SystemdVersion", o.SystemdVersion}, {"DbusVersion", o.DbusVersion},
	} {
		if !storeName.MatchString(f.value) {
			return fmt.Errorf("ClosureOpts.%s %q: not a valid store name", f.field, f.value)
		}
	}
	if o.HealthExit != nil && (*o.HealthExit < 0 || *o.HealthExit > 255) {
		return fmt.Errorf("ClosureOpts.HealthExit %d: outside 0-255", *o.HealthExit)
	}
	if o.ExitCode < 0 || o.ExitCode > 255 {
		return fmt.Errorf("ClosureOpts.ExitCode %d: outside 0-255", o.ExitCode)
	}
	if o.FlipDelay < 0 {
		return fmt.Errorf("ClosureOpts.FlipDelay %v: negative", o.FlipDelay)
	}
	if !quotableAbs(o.TestRoot) || o.TestRoot == "/" {
		return fmt.Errorf("ClosureOpts.TestRoot %q: want a clean absolute directory other than /, without quotes or newlines", o.TestRoot)
	}
	if o.FlipGate != "" && !quotableAbs(o.FlipGate) {
		return fmt.Errorf("ClosureOpts.FlipGate %q: want a clean absolute file name without quotes or newlines", o.FlipGate)
	}
	return nil
}

// quotableAbs reports whether p is a clean absolute path that can sit in
// single quotes in the switch script.
func quotableAbs(p string) bool {
	return filepath.IsAbs(p) && filepath.Clean(p) == p && !strings.ContainsAny(p, "'\n")
}

// OpenGate creates the file gate (a ClosureOpts.FlipGate) and its
// directory, letting every switch-to-configuration waiting for it go on.
func OpenGate(t testing.TB, gate string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(gate), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// BuildClosure builds a NixOS-shaped system closure with nix-build (no
// nixpkgs: builtins.derivation with the /bin/sh builder) and returns its store
// path, /nix/store/<hash>-nixos-system-<Host>-<Release>. The path holds
// bin/switch-to-configuration (see ClosureOpts), links into shared component
// store paths laid out as in NixOS (kernel -> linux-<v>/bzImage, initrd ->
// initrd-linux-<v>/initrd, systemd -> systemd-<v>, sw/lib/systemd/systemd ->
// systemd-<v>/lib/systemd/systemd, etc/systemd/system/dbus.service ->
// dbus-<v>/share/systemd/system/dbus.service), nixos-version and variant. No
// gc root is created; DeleteFromStore removes the closure again (and the
// shared paths no other valid closure refers to). Invalid opts fail t. Takes
// 0.2-0.9 s when the derivation is new.
func BuildClosure(t testing.TB, opts ClosureOpts) string {
	t.Helper()
	n := RequireNix(t)
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		t.Fatal(err)
	}
	flipDelay := "0"
	if opts.FlipDelay > 0 {
		flipDelay = strconv.FormatFloat(opts.FlipDelay.Seconds(), 'f', 3, 64)
	}
	neverFlip := boolArg(opts.NeverFlip)
	argv := []string{"nix-build", "--no-out-link", "-E", closureExpr,
		"--argstr", "host", opts.Host,
		"--argstr", "release", opts.Release,
		"--argstr", "variant", opts.Variant,
		"--argstr", "kernelVersion", opts.KernelVersion,
		"--argstr", "systemdVersion", opts.SystemdVersion,
		"--argstr", "dbusVersion", opts.DbusVersion,
		"--argstr", "systemScript", systemScript,
		"--argstr", "partScript", partScript,
		"--argstr", "exitCode", strconv.Itoa(opts.ExitCode),
		"--argstr", "flipDelay", flipDelay,
		"--argstr", "neverFlip", neverFlip,
		"--argstr", "flipGate", opts.FlipGate,
		"--argstr", "testRoot", opts.TestRoot,
		"--argstr", "noSwitch", boolArg(opts.NoSwitch),
		"--argstr", "healthExit", healthArg(opts.HealthExit),
	}
	return n.MustRun(t, argv...)
}

// healthArg is ClosureOpts.HealthExit as the build script reads it: the
// status, or "" for no check.
func healthArg(exit *int) string {
	if exit == nil {
		return ""
	}
	return strconv.Itoa(*exit)
}

// boolArg is a flag as the build scripts read it: "1" or "0".
func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
