package real

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

var realiseArgv = []string{"nix-store", "--realise", sysPath}

func TestRealiseReturnsThePathNixStorePrinted(t *testing.T) {
	b, _ := newScripted(t, Config{}, step{argv: realiseArgv, res: proc.Result{
		Stdout: []byte(sysPath + "\n"),
		Stderr: []byte("warning: you did not specify '--add-root'; the result might be removed by the garbage collector\n"),
	}})
	got, err := b.Realise(context.Background(), sysPath, "")
	require.NoError(t, err)
	assert.Equal(t, sysPath, got)
}

func TestRealiseFailureIsATypedErrorClassifiedFromAllOfStderr(t *testing.T) {
	b, _ := newScripted(t, Config{}, step{argv: realiseArgv, res: fail(1, stderrUntrusted28)})
	_, err := b.Realise(context.Background(), sysPath, "")
	var re *pipeline.RealiseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, pipeline.RealiseUntrusted, re.Kind)
	assert.Equal(t, 1, re.ExitCode)
	assert.Equal(t, stderrUntrusted28, re.Stderr)
}

func TestRealiseErrorKeepsOnlyTheTailOfALongStderr(t *testing.T) {
	long := stderrUntrusted28 + strings.Repeat("warning: noise\n", 1000) + buildFailed
	b, _ := newScripted(t, Config{}, step{argv: realiseArgv, res: fail(1, long)})
	_, err := b.Realise(context.Background(), sysPath, "")
	var re *pipeline.RealiseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, pipeline.RealiseUntrusted, re.Kind, "classified before cutting")
	assert.LessOrEqual(t, len(re.Stderr), pipeline.MaxStderrTail)
	assert.True(t, strings.HasSuffix(re.Stderr, buildFailed))
}

func TestRealiseWithoutPrintedPathIsBadOutput(t *testing.T) {
	b, _ := newScripted(t, Config{}, step{argv: realiseArgv, res: ok("")})
	_, err := b.Realise(context.Background(), sysPath, "")
	assert.ErrorIs(t, err, ErrBadOutput)
}

func TestRealiseThatCannotRunIsAPlainError(t *testing.T) {
	notFound := errors.New(`exec: "nix-store": executable file not found in $PATH`)
	b, _ := newScripted(t, Config{}, step{argv: realiseArgv, err: notFound})
	_, err := b.Realise(context.Background(), sysPath, "")
	require.ErrorIs(t, err, notFound)
	var re *pipeline.RealiseError
	assert.False(t, errors.As(err, &re))
}

func TestRealiseTimeoutSaysWhichCommandTimedOut(t *testing.T) {
	b, _ := newScripted(t, Config{RealiseTimeout: 1}, step{argv: realiseArgv, hang: true})
	_, err := b.Realise(context.Background(), sysPath, "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nix-store --realise "+sysPath+" timed out after 1ns")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var re *pipeline.RealiseError
	assert.False(t, errors.As(err, &re))
}

func TestCancelledCallerIsNotReportedAsATimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b, _ := newScripted(t, Config{}, step{argv: realiseArgv, hang: true})
	_, err := b.Realise(ctx, sysPath, "")
	require.ErrorIs(t, err, context.Canceled)
	assert.NotContains(t, err.Error(), "timed out")
}

func TestCommandTimeoutAppliesToNixEnv(t *testing.T) {
	b, _ := newScripted(t, Config{CommandTimeout: 1, RealiseTimeout: DefaultRealiseTimeout},
		step{argv: []string{"nix-env", "--profile", profile, "--set", sysPath}, hang: true})
	err := b.SetProfile(context.Background(), profile, sysPath)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nix-env --profile "+profile+" --set "+sysPath+" timed out after 1ns")
}

func TestSetProfileRunsNixEnvSetWithNixEnv(t *testing.T) {
	b, r := newScripted(t, Config{Env: []string{"NIX_CONFIG=substituters ="}},
		step{argv: []string{"nix-env", "--profile", profile, "--set", sysPath}, res: ok("")})
	require.NoError(t, b.SetProfile(context.Background(), profile, sysPath))
	assert.Equal(t, []string{"NIX_CONFIG=substituters ="}, r.calls[0].Env)
}

func TestRollbackFailureIsACommandError(t *testing.T) {
	argv := []string{"nix-env", "--profile", profile, "--rollback"}
	b, _ := newScripted(t, Config{}, step{argv: argv,
		res: fail(1, "error: no profile version older than the current (1) exists\n")})
	err := b.RollbackProfile(context.Background(), profile)
	var ce *pipeline.CommandError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, argv, ce.Argv)
	assert.Equal(t, 1, ce.ExitCode)
	assert.Equal(t, "error: no profile version older than the current (1) exists\n", ce.Stderr)
}

func TestCommandErrorStderrIsBounded(t *testing.T) {
	b, _ := newScripted(t, Config{}, step{argv: []string{"nix-env", "--profile", profile, "--rollback"},
		res: fail(1, strings.Repeat("x", 10*pipeline.MaxStderrTail)+"\nerror: last\n")})
	var ce *pipeline.CommandError
	require.ErrorAs(t, b.RollbackProfile(context.Background(), profile), &ce)
	assert.LessOrEqual(t, len(ce.Stderr), pipeline.MaxStderrTail)
	assert.True(t, strings.HasSuffix(ce.Stderr, "error: last\n"))
}

func TestListGenerations(t *testing.T) {
	b, _ := newScripted(t, Config{}, step{argv: []string{"nix-env", "--profile", profile, "--list-generations"},
		res: ok("   1   2026-11-29 12:14:21   \n   2   2026-11-29 12:20:00   (current)\n")})
	gens, err := b.ListGenerations(context.Background(), profile)
	require.NoError(t, err)
	require.Len(t, gens, 2)
	assert.Equal(t, []int{1, 2}, []int{gens[0].Number, gens[1].Number})
	assert.Equal(t, []bool{false, true}, []bool{gens[0].Current, gens[1].Current})
}

func TestListGenerationsFailureIsACommandError(t *testing.T) {
	b, _ := newScripted(t, Config{}, step{argv: []string{"nix-env", "--profile", profile, "--list-generations"},
		res: fail(1, "error: opening lock file '/nix/var/nix/profiles/system.lock': Permission denied\n")})
	_, err := b.ListGenerations(context.Background(), profile)
	var ce *pipeline.CommandError
	assert.ErrorAs(t, err, &ce)
}

var (
	rootedArgv   = []string{"nix-store", "--realise", sysPath, "--add-root", "/var/lib/x/gcroots/r", "--indirect"}
	diagnoseArgv = []string{"nix-store", "--realise", sysPath, "--debug", "--option", "narinfo-cache-negative-ttl", "0"}
)

func TestRealiseUnderAGCRootReturnsTheRootNixPrinted(t *testing.T) {
	// Nix 2.8 prints the root, not the store path, with --add-root (observed).
	b, _ := newScripted(t, Config{}, step{argv: rootedArgv, res: ok("/var/lib/x/gcroots/r\n")})
	got, err := b.Realise(context.Background(), sysPath, "/var/lib/x/gcroots/r")
	require.NoError(t, err)
	assert.Equal(t, "/var/lib/x/gcroots/r", got)
}

func TestRealiseNotFoundIsDiagnosedAtDebugAndARefusalIsUnauthorized(t *testing.T) {
	debug := "finished download of '" + narinfoURL + "'; curl status = 0, HTTP status = 401, body = 0 bytes\n" + stderrNotFound28
	b, _ := newScripted(t, Config{},
		step{argv: rootedArgv, res: fail(1, stderrNotFound28)},
		step{argv: diagnoseArgv, res: fail(1, debug)})
	_, err := b.Realise(context.Background(), sysPath, "/var/lib/x/gcroots/r")
	var re *pipeline.RealiseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, pipeline.RealiseUnauthorized, re.Kind)
	assert.True(t, strings.HasPrefix(re.Stderr, stderrNotFound28), "the first run's text first")
	assert.Contains(t, re.Stderr, "HTTP status = 401")
}

func TestRealiseDiagnosisWithoutRefusalKeepsTheVerdict(t *testing.T) {
	debug := "finished download of '" + narinfoURL + "'; curl status = 0, HTTP status = 404, body = 0 bytes\n" + stderrNotFound28
	b, _ := newScripted(t, Config{},
		step{argv: realiseArgv, res: fail(1, stderrNotFound28)},
		step{argv: diagnoseArgv, res: fail(1, debug)})
	_, err := b.Realise(context.Background(), sysPath, "")
	var re *pipeline.RealiseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, pipeline.RealiseNotFound, re.Kind)
	assert.Equal(t, stderrNotFound28, re.Stderr)
}

func TestRealiseUnreachableIsNotRunAgain(t *testing.T) {
	b, _ := newScripted(t, Config{}, step{argv: realiseArgv, res: fail(1, stderrUnreachable28)})
	_, err := b.Realise(context.Background(), sysPath, "")
	var re *pipeline.RealiseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, pipeline.RealiseUnreachable, re.Kind, "its retries are not repeated")
}

func TestRealiseWhoseGCRootCannotBeMadeRunsAgainWithoutIt(t *testing.T) {
	b, _ := newScripted(t, Config{},
		step{argv: rootedArgv, res: fail(1, "error: cannot create symlink '/var/lib/x/gcroots/r'; already exists\n")},
		step{argv: realiseArgv, res: proc.Result{Stdout: []byte(sysPath + "\n"),
			Stderr: []byte("warning: you did not specify '--add-root'; the result might be removed by the garbage collector\n")}})
	got, err := b.Realise(context.Background(), sysPath, "/var/lib/x/gcroots/r")
	require.NoError(t, err)
	assert.Equal(t, sysPath, got, "the store path: no root was made")
}

func TestNamesRootPath(t *testing.T) {
	root := "/var/lib/nixfleet-activate/gcroots/x-nixos-system"
	for _, stderr := range []string{ // Nix 2.8, observed
		"error: cannot create symlink '" + root + "'; already exists\n",
		"error: creating symlink from '" + root + ".tmp-27830-1722189305' to '/nix/store/x': Operation not permitted\n",
		"error: '/var/lib/nixfleet-activate' is not a directory\n",
	} {
		assert.True(t, namesRootPath(stderr, root), stderr)
	}
	for _, stderr := range []string{stderrNotFound28, stderrUntrusted28, "error: '/' is odd\n",
		"error: '/var/lib/nixfleet-activate/gcroots/x-nixos-system-2' is not it\n"} {
		assert.False(t, namesRootPath(stderr, root), stderr)
	}
}
