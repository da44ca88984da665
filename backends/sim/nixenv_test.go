package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const profile = DefaultProfile

func nixEnv(t *testing.T, h *Host, args ...string) (int, string, string) {
	t.Helper()
	res := run(t, h, append([]string{"nix-env", "--profile", profile}, args...)...)
	return res.ExitCode, string(res.Stdout), string(res.Stderr)
}

func requireNixEnv(t *testing.T, h *Host, exit int, stderr string, args ...string) {
	t.Helper()
	code, stdout, gotStderr := nixEnv(t, h, args...)
	assert.Empty(t, stdout)
	assert.Equal(t, stderr, gotStderr)
	require.Equal(t, exit, code)
}

func emptyHost(t *testing.T) *Host {
	h := MustNewHost(HostConfig{})
	for _, b := range []string{sysA, sysB, sysC} {
		h.MustAddClosure(ClosureSpec{Basename: b, Valid: true})
	}
	return h
}

// The sequence replays one observed with Nix 2.8.0 (Debian nix-bin).
func TestProfileGenerationSemanticsFollowNix28(t *testing.T) {
	h := emptyHost(t)
	a, b, c := storePath(sysA), storePath(sysB), storePath(sysC)
	requireNixEnv(t, h, 1, "error: no profile version older than the current (0) exists\n", "--rollback")
	requireNixEnv(t, h, 0, "", "--set", a)
	requireNixEnv(t, h, 1, "error: no profile version older than the current (1) exists\n", "--rollback")
	requireNixEnv(t, h, 0, "", "--set", b)
	h.Clock().Advance(time.Minute)
	requireNixEnv(t, h, 0, "", "--set", c)
	code, stdout, _ := nixEnv(t, h, "--list-generations")
	require.Equal(t, 0, code)
	assert.Equal(t, "   1   2026-11-29 12:00:00   \n   2   2026-11-29 12:00:00   \n   3   2026-11-29 12:01:00   (current)\n", stdout)

	requireNixEnv(t, h, 0, "switching profile from version 3 to 2\n", "--rollback")
	link, err := h.FS().Readlink(profile)
	require.NoError(t, err)
	assert.Equal(t, "system-2-link", link, "the profile link is relative")
	target, err := h.FS().Readlink(profile + "-3-link")
	require.NoError(t, err)
	assert.Equal(t, c, target, "rollback keeps the links; generation links are absolute")

	requireNixEnv(t, h, 0, "", "--set", a)
	assert.Equal(t, 4, h.ProfileGeneration(), "after a rollback --set makes max+1")
	requireNixEnv(t, h, 1, "error: profile version 9 does not exist\n", "--switch-generation", "9")
	requireNixEnv(t, h, 0, "switching profile from version 4 to 2\n", "--switch-generation", "2")
	requireNixEnv(t, h, 0, "", "--set", b)
	assert.Equal(t, 5, h.ProfileGeneration())
	requireNixEnv(t, h, 0, "", "--set", b)
	assert.Equal(t, 5, h.ProfileGeneration(), "the highest generation already points there: reused")
	requireNixEnv(t, h, 0, "switching profile from version 5 to 4\n", "--rollback")
	requireNixEnv(t, h, 0, "", "--set", b)
	assert.Equal(t, 5, h.ProfileGeneration())
	assert.Len(t, h.Profile(), 5)
	requireNixEnv(t, h, 0, "switching profile from version 5 to 5\n", "--switch-generation", "5")
	requireNixEnv(t, h, 0, "", "--set", a+"/bin")
	assert.Equal(t, 6, h.ProfileGeneration(), "a subpath sets its store path")
	assert.Equal(t, sysA, h.ProfileTarget())
}

func TestRollbackSkipsMissingGenerations(t *testing.T) {
	h := emptyHost(t)
	require.NoError(t, h.InitProfile(sysA, sysB, sysC))
	require.NoError(t, h.FS().Remove(profile+"-2-link"))
	requireNixEnv(t, h, 0, "switching profile from version 3 to 1\n", "--rollback")
	require.NoError(t, h.FS().Remove(profile+"-1-link"))
	requireNixEnv(t, h, 1, "error: no profile version older than the current (1) exists\n", "--rollback")
}

func TestSetOfUnknownPathSubstitutesOrFails(t *testing.T) {
	h := newHost(t)
	b := storePath(sysB)
	requireNixEnv(t, h, 0, "this path will be fetched (0.00 MiB download, 0.00 MiB unpacked):\n  "+b+"\n"+
		"copying path '"+b+"' from '"+cacheURL+"'...\n", "--set", b)
	assert.Equal(t, sysB, h.ProfileTarget())
	p := storePath(sysC)
	requireNixEnv(t, h, 1, "don't know how to build these paths:\n  "+p+"\nerror: build of '"+p+"' failed\n", "--set", p)
	requireNixEnv(t, h, 1, "error: 'not-a-hash' is too short to be a valid store path\n", "--set", "/nix/store/not-a-hash")
	assert.Equal(t, 2, h.ProfileGeneration(), "failed sets add no generation")
}

// Usage errors observed with Nix 2.8.
func TestNixEnvUsageErrors(t *testing.T) {
	h := newHost(t)
	hint := "Try 'nix-env --help' for more information.\n"
	a := storePath(sysA)
	requireNixEnv(t, h, 1, "error: no operation specified\n"+hint, "--bogus")
	requireNixEnv(t, h, 1, "error: no operation specified\n"+hint)
	requireNixEnv(t, h, 1, "error: unknown flag '--bogus'\n"+hint, "--set", a, "--bogus")
	requireNixEnv(t, h, 1, "error: unknown flag '--bogus'\n"+hint, "--rollback", "--bogus")
	requireNixEnv(t, h, 1, "error: no arguments expected\n"+hint, "--rollback", "extra")
	requireNixEnv(t, h, 1, "error: unknown flag '--bogus'\n"+hint, "--list-generations", "--bogus")
	requireNixEnv(t, h, 1, "error: --set requires exactly one derivation\n", "--set")
	requireNixEnv(t, h, 1, "error: expected a generation number\n"+hint, "--switch-generation", "abc")
	requireResult(t, run(t, h, "nix-env", "--profile"), 1, "", "error: '--profile' requires an argument\n"+hint)
	requireResult(t, run(t, h, "nix-env", "--set", a, "--profile", profile), 0, "", "")
}

func TestNixEnvWithoutProfileDirectory(t *testing.T) {
	h := newHost(t)
	p := "/nodir/system"
	requireResult(t, run(t, h, "nix-env", "--profile", p, "--list-generations"), 1, "",
		"error: opening lock file '/nodir/system.lock': No such file or directory\n")
	requireResult(t, run(t, h, "nix-env", "--profile", p, "--rollback"), 1, "",
		"error: opening lock file '/nodir/system.lock': No such file or directory\n")
	requireResult(t, run(t, h, "nix-env", "--profile", p, "--set", storePath(sysA)), 1, "",
		"error: opening directory '/nodir': No such file or directory\n")
	requireResult(t, run(t, h, "nix-env", "--profile", "/nix/var/nix/profiles/other", "--list-generations"), 0, "", "")
}

func TestNixEnvSetAcceptsDashDashAsNix28(t *testing.T) {
	h := newHost(t)
	run(t, h, "nix-store", "--realise", storePath(sysB))
	code, _, stderr := nixEnv(t, h, "--set", "--", storePath(sysB))
	require.Equal(t, 0, code, stderr)
	code, _, stderr = nixEnv(t, h, "--set", "--", "-x")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "unknown flag '-x'")
}
