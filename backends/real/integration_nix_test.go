package real_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/backends/real/realtest"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// These tests run the Backend unchanged against the machine's real Nix
// (Nix 2.8, Debian nix-bin) through realtest; they skip when it is missing,
// and fail instead under CI=true or NIXFLEET_REQUIRE_REAL=1.

// variant gives each test fresh store paths.
func variant(t testing.TB, suffix string) string {
	return fmt.Sprintf("%s-%d-%d%s", strings.ReplaceAll(t.Name(), "/", "-"), os.Getpid(), time.Now().UnixNano(), suffix)
}

// substitutedClosure builds a closure, publishes it to a fresh signed cache
// and deletes it locally, so realising it must substitute.
func substitutedClosure(t *testing.T) (string, *realtest.Cache) {
	t.Helper()
	path := realtest.BuildClosure(t, realtest.ClosureOpts{Variant: variant(t, ""), TestRoot: t.TempDir()})
	t.Cleanup(func() { realtest.DeleteFromStore(t, path) })
	cache := realtest.NewCache(t)
	cache.Publish(t, path)
	realtest.DeleteFromStore(t, path)
	return path, cache
}

func nixBackend(n *realtest.Nix, substituters []string, keys ...string) *real.Backend {
	return real.New(real.Config{Runner: n.Runner(), Substituters: substituters, TrustedPublicKeys: keys})
}

func TestRealNixRealiseFromSignedCache(t *testing.T) {
	n := realtest.RequireNix(t)
	path, cache := substitutedClosure(t)
	got, err := nixBackend(n, []string{cache.URL()}, cache.PublicKey()).Realise(context.Background(), path, "")
	require.NoError(t, err)
	assert.Equal(t, path, got)
}

func TestRealNixRealiseFailuresAreClassified(t *testing.T) {
	n := realtest.RequireNix(t)
	tests := []struct {
		name string
		// setup returns the path to realise and the backend's substituters and keys.
		setup func(t *testing.T) (path string, subs, keys []string)
		want  pipeline.RealiseFailure
	}{
		{"wrong key", func(t *testing.T) (string, []string, []string) {
			path, cache := substitutedClosure(t)
			return path, []string{cache.URL()}, []string{realtest.WrongPublicKey(t)}
		}, pipeline.RealiseUntrusted},
		{"unsigned cache", func(t *testing.T) (string, []string, []string) {
			path := realtest.BuildClosure(t, realtest.ClosureOpts{Variant: variant(t, ""), TestRoot: t.TempDir()})
			t.Cleanup(func() { realtest.DeleteFromStore(t, path) })
			unsigned := realtest.NewUnsignedCache(t)
			unsigned.Publish(t, path)
			realtest.DeleteFromStore(t, path)
			return path, []string{unsigned.URL()}, []string{realtest.NewCache(t).PublicKey()}
		}, pipeline.RealiseUntrusted},
		{"path in no cache", func(t *testing.T) (string, []string, []string) {
			cache := realtest.NewCache(t)
			return "/nix/store/00000000000000000000000000000000-nixos-system-x-24.05", []string{cache.URL()}, []string{cache.PublicKey()}
		}, pipeline.RealiseNotFound},
		{"NAR replaced", func(t *testing.T) (string, []string, []string) {
			root := t.TempDir()
			victim := realtest.BuildClosure(t, realtest.ClosureOpts{Variant: variant(t, "-victim"), TestRoot: root})
			donor := realtest.BuildClosure(t, realtest.ClosureOpts{Variant: variant(t, "-donor"), TestRoot: root})
			t.Cleanup(func() { realtest.DeleteFromStore(t, victim); realtest.DeleteFromStore(t, donor) })
			cache := realtest.NewCache(t)
			cache.Publish(t, victim)
			cache.Publish(t, donor)
			cache.ReplaceNAR(t, victim, donor)
			realtest.DeleteFromStore(t, victim)
			return victim, []string{cache.URL()}, []string{cache.PublicKey()}
		}, pipeline.RealiseHashMismatch},
		{"NAR missing", func(t *testing.T) (string, []string, []string) {
			path, cache := substitutedClosure(t)
			cache.RemoveNAR(t, path)
			return path, []string{cache.URL()}, []string{cache.PublicKey()}
		}, pipeline.RealiseCorrupt},
		{"NAR garbage", func(t *testing.T) (string, []string, []string) {
			path, cache := substitutedClosure(t)
			require.NoError(t, os.WriteFile(cache.NARFile(t, path), []byte("garbage\n"), 0o644))
			return path, []string{cache.URL()}, []string{cache.PublicKey()}
		}, pipeline.RealiseCorrupt},
		{"hash too short", func(t *testing.T) (string, []string, []string) {
			return "/nix/store/not-a-hash", nil, nil
		}, pipeline.RealiseInvalidPath},
		{"illegal base-32 character", func(t *testing.T) (string, []string, []string) {
			return "/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-x", nil, nil
		}, pipeline.RealiseInvalidPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, subs, keys := tt.setup(t)
			_, err := nixBackend(n, subs, keys...).Realise(context.Background(), path, "")
			var re *pipeline.RealiseError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tt.want, re.Kind, "stderr:\n%s", re.Stderr)
			assert.Equal(t, 1, re.ExitCode)
		})
	}
}

// TestRealNixRealiseUnreachableCache takes about 4.7 s: Nix 2.8 retries the
// connection four times.
func TestRealNixRealiseUnreachableCache(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: Nix retries an unreachable cache for about 4.7 s")
	}
	n := realtest.RequireNix(t)
	path, cache := substitutedClosure(t)
	_, err := nixBackend(n, []string{"http://127.0.0.1:9"}, cache.PublicKey()).Realise(context.Background(), path, "")
	var re *pipeline.RealiseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, pipeline.RealiseUnreachable, re.Kind, "stderr:\n%s", re.Stderr)
}

func TestRealNixProfileGenerations(t *testing.T) {
	n := realtest.RequireNix(t)
	root := t.TempDir()
	first := realtest.BuildClosure(t, realtest.ClosureOpts{Variant: variant(t, "-1"), TestRoot: root})
	second := realtest.BuildClosure(t, realtest.ClosureOpts{Variant: variant(t, "-2"), TestRoot: root})
	t.Cleanup(func() { realtest.DeleteFromStore(t, first); realtest.DeleteFromStore(t, second) })
	profile := filepath.Join(t.TempDir(), "system")
	b := real.New(real.Config{Runner: n.Runner()})
	ctx := context.Background()

	gens, err := b.ListGenerations(ctx, profile)
	require.NoError(t, err)
	assert.Empty(t, gens, "a missing profile has no generations")

	require.NoError(t, b.SetProfile(ctx, profile, first))
	require.NoError(t, b.SetProfile(ctx, profile, second))
	assertGenerations(t, b, profile, []int{1, 2}, 2)
	assertProfileTarget(t, profile, second)

	require.NoError(t, b.RollbackProfile(ctx, profile))
	assertGenerations(t, b, profile, []int{1, 2}, 1)
	assertProfileTarget(t, profile, first)

	err = b.RollbackProfile(ctx, profile)
	var ce *pipeline.CommandError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 1, ce.ExitCode)
	assert.Equal(t, []string{"nix-env", "--profile", profile, "--rollback"}, ce.Argv)
	assert.Contains(t, ce.Stderr, "error: no profile version older than the current (1) exists")

	// Nix 2.8 reuses the highest generation when it already holds the path,
	// even after a rollback; any other path gets max+1.
	require.NoError(t, b.SetProfile(ctx, profile, second))
	assertGenerations(t, b, profile, []int{1, 2}, 2)
	require.NoError(t, b.RollbackProfile(ctx, profile))
	require.NoError(t, b.SetProfile(ctx, profile, first))
	assertGenerations(t, b, profile, []int{1, 2, 3}, 3)
	assertProfileTarget(t, profile, first)

	// --switch-generation (the restore's and the rollback's command) keeps
	// every generation; a missing one fails with Nix 2.8's own words.
	require.NoError(t, b.SwitchGeneration(ctx, profile, 2))
	assertGenerations(t, b, profile, []int{1, 2, 3}, 2)
	assertProfileTarget(t, profile, second)
	err = b.SwitchGeneration(ctx, profile, 9)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 1, ce.ExitCode)
	assert.Equal(t, []string{"nix-env", "--profile", profile, "--switch-generation", "9"}, ce.Argv)
	assert.Contains(t, ce.Stderr, "error: profile version 9 does not exist")
	assertGenerations(t, b, profile, []int{1, 2, 3}, 2)
}

func assertGenerations(t *testing.T, b *real.Backend, profile string, numbers []int, current int) {
	t.Helper()
	gens, err := b.ListGenerations(context.Background(), profile)
	require.NoError(t, err)
	var got []int
	for _, g := range gens {
		got = append(got, g.Number)
		assert.Equal(t, g.Number == current, g.Current, "generation %d", g.Number)
		assert.WithinDuration(t, time.Now(), g.Created, 10*time.Minute, "read in local time")
	}
	assert.Equal(t, numbers, got)
}

func assertProfileTarget(t *testing.T, profile, want string) {
	t.Helper()
	got, err := filepath.EvalSymlinks(profile)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}
