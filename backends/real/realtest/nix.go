package realtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixfleet/nixfleet-activate/proc"
)

// NixConfig is the NIX_CONFIG value the helpers pass to every Nix command:
// the three settings single-user, daemon-less Nix 2.8 (Debian nix-bin) needs
// as root. Without them: "group 'nixbld' does not exist", a sandbox in which
// the /bin/sh builder is invisible, and ~4.5 s of retries per command against
// the unreachable public cache. scripts/real/setup.sh writes the same lines to
// /etc/nix/nix.conf for the production binary.
const NixConfig = "build-users-group =\nsandbox = false\nsubstituters =\n"

// commandTimeout bounds each command a helper runs; the slowest (a nix-build
// or nix copy) takes under a second on the reference machine.
const commandTimeout = 2 * time.Minute

// Nix describes a usable real Nix installation.
type Nix struct {
	// Version is what `nix-store --version` reports, e.g. "2.8.0".
	Version string
	// Env holds the KEY=VALUE entries every Nix command needs on top of the
	// inherited environment: NIX_CONFIG=NixConfig.
	Env []string
}

// Runner returns a proc.Runner that runs commands on this machine with
// proc.Exec, adding n.Env to each command's environment.
func (n *Nix) Runner() proc.Runner { return WithEnv(proc.Exec{}, n.Env) }

// WithEnv wraps r so that every command also gets env (KEY=VALUE entries,
// placed before the command's own Env so the command can override them).
func WithEnv(r proc.Runner, env []string) proc.Runner {
	return proc.RunnerFunc(func(ctx context.Context, cmd proc.Cmd) (proc.Result, error) {
		cmd.Env = append(append([]string(nil), env...), cmd.Env...)
		return r.Run(ctx, cmd)
	})
}

// Run runs argv on this machine with n.Env and returns its result; a command
// that could not be run at all fails t. Non-zero exits are returned, not
// failed.
func (n *Nix) Run(t testing.TB, argv ...string) proc.Result {
	t.Helper()
	return runOrFatal(t, n.Runner(), argv...)
}

// MustRun runs argv like Run and fails t unless it exits 0; it returns stdout
// with surrounding white space trimmed.
func (n *Nix) MustRun(t testing.TB, argv ...string) string {
	t.Helper()
	res := n.Run(t, argv...)
	if res.ExitCode != 0 {
		t.Fatalf("%s: exit %d\n%s", proc.Cmd{Argv: argv}, res.ExitCode, res.Stderr)
	}
	return strings.TrimSpace(string(res.Stdout))
}

func runOrFatal(t testing.TB, r proc.Runner, argv ...string) proc.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	res, err := r.Run(ctx, proc.Cmd{Argv: argv})
	if err != nil {
		t.Fatalf("%s: %v\n%s", proc.Cmd{Argv: argv}, err, res.Stderr)
	}
	return res
}

var nixProbe struct {
	once   sync.Once
	nix    *Nix
	reason string
}

// RequireNix returns the machine's Nix when it is usable by the helpers:
// running as root, nix-store, nix-env, nix-build and nix on PATH, an
// x86_64-linux host, and a trivial derivation builds with NixConfig. Otherwise
// it skips t with the reason, or fails it under Strict (CI=true or
// NIXFLEET_REQUIRE_REAL=1). The probe runs once per test binary.
func RequireNix(t testing.TB) *Nix {
	t.Helper()
	nixProbe.once.Do(func() { nixProbe.nix, nixProbe.reason = probeNix() })
	if nixProbe.nix == nil {
		unavailable(t, "%s", nixProbe.reason)
	}
	return nixProbe.nix
}

func probeNix() (*Nix, string) {
	if os.Geteuid() != 0 {
		return nil, "not root: single-user Nix needs write access to /nix"
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return nil, "test closures are x86_64-linux, this is " + runtime.GOOS + "/" + runtime.GOARCH
	}
	for _, tool := range []string{"nix-store", "nix-env", "nix-build", "nix"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, tool + " not on PATH (scripts/real/setup.sh installs nix-bin)"
		}
	}
	n := &Nix{Env: []string{"NIX_CONFIG=" + NixConfig}}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	res, err := n.Runner().Run(ctx, proc.Cmd{Argv: []string{"nix-store", "--version"}})
	if err != nil || res.ExitCode != 0 {
		return nil, fmt.Sprintf("nix-store --version: exit %d, %v: %s", res.ExitCode, err, res.Stderr)
	}
	// "nix-store (Nix) 2.8.0"
	fields := strings.Fields(string(res.Stdout))
	if len(fields) == 0 {
		return nil, "nix-store --version printed nothing"
	}
	n.Version = fields[len(fields)-1]
	probe := `derivation { name = "nixfleet-realtest-probe"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo ok > $out" ]; }`
	res, err = n.Runner().Run(ctx, proc.Cmd{Argv: []string{"nix-build", "--no-out-link", "-E", probe}})
	if err != nil || res.ExitCode != 0 {
		return nil, fmt.Sprintf("nix-build of a trivial derivation: exit %d, %v: %s", res.ExitCode, err, res.Stderr)
	}
	return n, ""
}
