package sim

import (
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const addRootWarning = "warning: you did not specify '--add-root'; the result might be removed by the garbage collector\n"

func TestRealiseValidPathPrintsItWhateverTheKeys(t *testing.T) {
	h := newHost(t)
	p := storePath(sysA)
	res := run(t, h, "nix-store", "--realise", p, "--option", "trusted-public-keys", "")
	requireResult(t, res, 0, p+"\n", addRootWarning)
	// A subpath realises its store path (Nix 2.8, observed).
	res = run(t, h, "nix-store", "--realise", p+"/bin/switch-to-configuration")
	requireResult(t, res, 0, p+"\n", addRootWarning)
}

func TestRealiseFetchesFromTrustedSubstituter(t *testing.T) {
	h := newHost(t)
	p := storePath(sysB)
	require.False(t, h.IsValid(sysB))
	res := run(t, h, "nix-store", "--realise", p)
	requireResult(t, res, 0, p+"\n",
		"this path will be fetched (0.00 MiB download, 0.00 MiB unpacked):\n  "+p+"\n"+
			"copying path '"+p+"' from '"+cacheURL+"'...\n"+addRootWarning)
	assert.True(t, h.IsValid(sysB))
	_, err := h.FS().Stat(p + "/bin/switch-to-configuration")
	assert.NoError(t, err, "the closure's tree exists once valid")
}

func TestRealiseOptionsReplaceNixConf(t *testing.T) {
	h := newHost(t)
	p := storePath(sysB)
	// The command's keys replace nix.conf's: the cache's key is no longer trusted.
	res := run(t, h, "nix-store", "--realise", p, "--option", "substituters", cacheURL,
		"--option", "trusted-public-keys", Key("other-1"))
	assert.Equal(t, 1, res.ExitCode)
	assert.Contains(t, string(res.Stderr), "is not signed by any of the keys in 'trusted-public-keys'")
	assert.False(t, h.IsValid(sysB))
	// No substituters at all: nothing offers it.
	res = run(t, h, "nix-store", "--realise", p, "--option", "substituters", "")
	requireResult(t, res, 1, "", "don't know how to build these paths:\n  "+p+"\nerror: build of '"+p+"' failed\n")
}

func TestRealiseNotFound(t *testing.T) {
	h := newHost(t)
	p := storePath(sysC)
	res := run(t, h, "nix-store", "--realise", p)
	// Nix 2.8, observed verbatim.
	requireResult(t, res, 1, "", "don't know how to build these paths:\n  "+p+"\nerror: build of '"+p+"' failed\n")
}

func TestRealiseUntrustedInEachNixVersionsPhrasing(t *testing.T) {
	cases := map[string]string{
		"2.3":  "warning: substituter '" + cacheURL + "' does not have a valid signature for path '%s'",
		"2.8":  "warning: the substitute for '%s' from '" + cacheURL + "' is not signed by any of the keys in 'trusted-public-keys'",
		"2.13": "warning: ignoring substitute for '%s' from '" + cacheURL + "', as it's not signed by any of the keys in 'trusted-public-keys'",
	}
	for version, warning := range cases {
		for name, signedBy := range map[string]string{"unsigned": "", "wrong key": Key("evil-1")} {
			t.Run(version+" "+name, func(t *testing.T) {
				h := MustNewHost(HostConfig{NixVersion: version, Substituters: []string{cacheURL},
					TrustedPublicKeys: []string{Key("cache-1")}})
				h.MustAddClosure(ClosureSpec{Basename: sysB, Offers: []Offer{{URL: cacheURL, SignedBy: signedBy}}})
				p := storePath(sysB)
				res := run(t, h, "nix-store", "--realise", p)
				requireResult(t, res, 1, "", "this path will be fetched (0.00 MiB download, 0.00 MiB unpacked):\n  "+p+"\n"+
					strings.ReplaceAll(warning, "%s", p)+"\nerror: build of '"+p+"' failed\n")
				assert.False(t, h.IsValid(sysB))
			})
		}
	}
}

func TestRealiseSecondSubstituterAfterUntrustedFirst(t *testing.T) {
	h := MustNewHost(HostConfig{Substituters: []string{"file:///a", "file:///b"}, TrustedPublicKeys: []string{Key("b-1")}})
	h.MustAddClosure(ClosureSpec{Basename: sysB, Offers: []Offer{{URL: "file:///a"}, {URL: "file:///b", SignedBy: Key("b-1")}}})
	res := run(t, h, "nix-store", "-r", storePath(sysB))
	assert.Equal(t, 0, res.ExitCode)
	assert.Contains(t, string(res.Stderr), "from 'file:///a' is not signed")
	assert.Contains(t, string(res.Stderr), "copying path '"+storePath(sysB)+"' from 'file:///b'...")
}

// The shapes were observed with Nix 2.8.0 (Debian nix-bin) on a file://
// cache; the hashes are the simulator's.
func TestRealiseDefectiveCopies(t *testing.T) {
	p := storePath(sysB)
	cases := map[OfferDefect]string{
		OfferHashMismatch: "error: hash mismatch importing path '" + p + "';\n" +
			"         specified: sha256:" + sha256Base32("specified "+p) + "\n" +
			"         got:       sha256:" + sha256Base32("got "+p) + "\n",
		OfferNarMissing: "error: file 'nar/" + sha256Base32("nar "+p) + ".nar.xz' does not exist in binary cache\n",
		OfferGarbage:    "error: input compression not recognized\n",
	}
	for defect, want := range cases {
		t.Run(string(defect), func(t *testing.T) {
			h := MustNewHost(HostConfig{Substituters: []string{cacheURL}, TrustedPublicKeys: []string{Key("cache-1")}})
			h.MustAddClosure(ClosureSpec{Basename: sysB, Offers: []Offer{{URL: cacheURL, SignedBy: Key("cache-1"), Defect: defect}}})
			res := run(t, h, "nix-store", "--realise", p)
			requireResult(t, res, 1, "", "this path will be fetched (0.00 MiB download, 0.00 MiB unpacked):\n  "+p+"\n"+
				"copying path '"+p+"' from '"+cacheURL+"'...\n"+want+"error: build of '"+p+"' failed\n")
			assert.False(t, h.IsValid(sysB))
		})
	}
}

func TestRealiseUnreachableCacheRetriesFourTimes(t *testing.T) {
	const url = "http://cache.invalid"
	h := MustNewHost(HostConfig{Substituters: []string{url, cacheURL}, TrustedPublicKeys: []string{Key("cache-1")}})
	h.MustAddClosure(ClosureSpec{Basename: sysB, Offers: []Offer{{URL: url}}})
	h.SetUnreachable(url, true)
	p := storePath(sysB)
	res := run(t, h, "nix-store", "--realise", p)
	retry := "warning: error: unable to download '" + url + "/nix-cache-info': Couldn't connect to server (7); retrying in "
	requireResult(t, res, 1, "", retry+"259 ms\n"+retry+"526 ms\n"+retry+"1323 ms\n"+retry+"2462 ms\n"+
		"warning: unable to download '"+url+"/nix-cache-info': Couldn't connect to server (7)\n"+
		"don't know how to build these paths:\n  "+p+"\nerror: build of '"+p+"' failed\n")
	assert.Equal(t, 4570*time.Millisecond, h.Elapsed(), "the retries take virtual time")

	// Observed: the next substituter is used after the dead one.
	h.MustAddClosure(ClosureSpec{Basename: sysB, Offers: []Offer{{URL: cacheURL, SignedBy: Key("cache-1")}}})
	res = run(t, h, "nix-store", "--realise", p)
	assert.Equal(t, 0, res.ExitCode)
	assert.True(t, strings.HasPrefix(string(res.Stderr), retry+"259 ms\n"))
	assert.Contains(t, string(res.Stderr), "Couldn't connect to server (7)\nthis path will be fetched")
}

func TestRealisedPathDiffers(t *testing.T) {
	h := newHost(t)
	h.MustAddClosure(ClosureSpec{Basename: sysB, RealisesAs: sysC, Offers: []Offer{{URL: cacheURL, SignedBy: Key("cache-1")}}})
	res := run(t, h, "nix-store", "--realise", storePath(sysB))
	assert.Equal(t, 0, res.ExitCode)
	assert.Equal(t, storePath(sysC)+"\n", string(res.Stdout))
}

func TestRealiseRejectsMalformedPathsBeforeAnything(t *testing.T) {
	h := newHost(t)
	res := run(t, h, "nix-store", "--realise", storePath(sysB), "/nix/store/not-a-hash")
	requireResult(t, res, 1, "", "error: 'not-a-hash' is too short to be a valid store path\n")
	assert.False(t, h.IsValid(sysB), "nothing was realised")
}

// Usage errors observed with Nix 2.8.
func TestNixStoreUsageErrors(t *testing.T) {
	h := newHost(t)
	p := storePath(sysA)
	hint := "Try 'nix-store --help' for more information.\n"
	requireResult(t, run(t, h, "nix-store", "--bogus"), 1, "", "error: no operation specified\n"+hint)
	requireResult(t, run(t, h, "nix-store", "--realise", "--bogus", p), 1, "", "error: unknown flag '--bogus'\n"+hint)
	requireResult(t, run(t, h, "nix-store", "--realise", p, "--option"), 1, "", "error: flag '--option' requires 2 argument(s)\n"+hint)
	requireResult(t, run(t, h, "nix-store", "--realise", p, "--option", "substituters"), 1, "", "error: flag '--option' requires 2 argument(s)\n"+hint)
	requireResult(t, run(t, h, "nix-store", "--realise"), 0, "", "")
	// An unknown setting is ignored (observed).
	requireResult(t, run(t, h, "nix-store", "--realise", p, "--option", "bogus-opt", "x"), 0, p+"\n", addRootWarning)
	// --add-root prints the root, not the store path (observed with Nix 2.8).
	requireResult(t, run(t, h, "nix-store", "--realise", p, "--add-root", "/tmp/r"), 0, "/tmp/r\n", "")
}

// --add-root as observed with Nix 2.8: parents created, an existing link
// replaced, --indirect accepted, the root printed; a file in the way and a
// root in the store refused.
func TestNixStoreAddRoot(t *testing.T) {
	h := newHost(t)
	p := storePath(sysA)
	requireResult(t, run(t, h, "nix-store", "--realise", p, "--add-root", "/var/lib/x/gcroots/r", "--indirect"), 0, "/var/lib/x/gcroots/r\n", "")
	target, err := h.FS().Readlink("/var/lib/x/gcroots/r")
	require.NoError(t, err)
	assert.Equal(t, p, target)
	require.NoError(t, h.FS().ReplaceLink("/nix/store/elsewhere", "/var/lib/x/gcroots/r"))
	requireResult(t, run(t, h, "nix-store", "--realise", p, "--add-root", "/var/lib/x/gcroots/r"), 0, "/var/lib/x/gcroots/r\n", "")
	target, _ = h.FS().Readlink("/var/lib/x/gcroots/r")
	assert.Equal(t, p, target, "an existing link is replaced")
	require.NoError(t, h.FS().WriteFile("/var/lib/x/gcroots/f", []byte("xx\n"), 0o644))
	requireResult(t, run(t, h, "nix-store", "--realise", p, "--add-root", "/var/lib/x/gcroots/f"), 1, "",
		"error: cannot create symlink '/var/lib/x/gcroots/f'; already exists\n")
	requireResult(t, run(t, h, "nix-store", "--realise", p, "--add-root", "/nix/store/foo"), 1, "",
		"error: creating a garbage collector root (/nix/store/foo) in the Nix store is forbidden (are you running nix-build inside the store?)\n")
}

// The collector keeps what a root, the profile or /run/current-system
// holds, and deletes the rest with its tree.
func TestCollectGarbage(t *testing.T) {
	h := newHost(t)
	rooted := FakeBasename("nixos-system-web1-24.05", "rooted")
	loose := FakeBasename("nixos-system-web1-24.05", "loose")
	h.MustAddClosure(ClosureSpec{Basename: rooted, Valid: true})
	h.MustAddClosure(ClosureSpec{Basename: loose, Valid: true})
	requireResult(t, run(t, h, "nix-store", "--realise", storePath(rooted), "--add-root", "/var/lib/x/gcroots/r"), 0, "/var/lib/x/gcroots/r\n", "")
	deleted := h.CollectGarbage()
	assert.Contains(t, deleted, loose)
	assert.NotContains(t, deleted, rooted)
	assert.True(t, h.IsValid(rooted))
	assert.False(t, h.IsValid(loose))
	_, err := h.FS().Lstat(storePath(loose))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	require.NoError(t, h.FS().Remove("/var/lib/x/gcroots/r"))
	assert.Contains(t, h.CollectGarbage(), rooted, "a removed root keeps nothing")
}

func TestNixConfigEnvironmentApplies(t *testing.T) {
	h := MustNewHost(HostConfig{})
	h.MustAddClosure(ClosureSpec{Basename: sysB, Offers: []Offer{{URL: cacheURL, SignedBy: Key("cache-1")}}})
	res, err := h.Run(t.Context(), cmdWithEnv([]string{"NIX_CONFIG=substituters = " + cacheURL + "\ntrusted-public-keys = " + Key("cache-1")},
		"nix-store", "--realise", storePath(sysB)))
	require.NoError(t, err)
	assert.Equal(t, 0, res.ExitCode, string(res.Stderr))
}
