package sim

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/proc"
)

// Closures used across the tests.
var (
	sysA = FakeBasename("nixos-system-web1-23.05", "a")
	sysB = FakeBasename("nixos-system-web1-23.05", "b")
	sysC = FakeBasename("nixos-system-web1-23.05", "c")
)

const cacheURL = "file:///srv/cache"

// newHost returns a host whose nix.conf trusts Key("cache-1") on cacheURL,
// running sysA (generation 1), with sysB offered signed by the cache and
// sysC known but offered nowhere.
func newHost(t *testing.T) *Host {
	t.Helper()
	h, err := NewHost(HostConfig{Substituters: []string{cacheURL}, TrustedPublicKeys: []string{Key("cache-1")}})
	require.NoError(t, err)
	require.NoError(t, h.AddClosure(ClosureSpec{Basename: sysA, Valid: true}))
	require.NoError(t, h.AddClosure(ClosureSpec{Basename: sysB,
		Offers: []Offer{{URL: cacheURL, SignedBy: Key("cache-1")}}}))
	require.NoError(t, h.AddClosure(ClosureSpec{Basename: sysC}))
	require.NoError(t, h.InitProfile(sysA))
	require.NoError(t, h.SetCurrent(sysA))
	require.NoError(t, h.SetBooted(sysA))
	return h
}

// run runs argv on h and fails the test on a Run error.
func run(t *testing.T, h *Host, argv ...string) proc.Result {
	t.Helper()
	res, err := h.Run(context.Background(), proc.Cmd{Argv: argv})
	require.NoError(t, err)
	return res
}

// requireResult checks a result's exit status and exact outputs.
func requireResult(t *testing.T, res proc.Result, exit int, stdout, stderr string) {
	t.Helper()
	require.Equal(t, stdout, string(res.Stdout), "stdout")
	require.Equal(t, stderr, string(res.Stderr), "stderr")
	require.Equal(t, exit, res.ExitCode, "exit code")
}

func cmdWithEnv(env []string, argv ...string) proc.Cmd { return proc.Cmd{Argv: argv, Env: env} }
