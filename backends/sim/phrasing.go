package sim

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultNixVersion is the Nix version whose texts the host emulates unless
// HostConfig.NixVersion says otherwise: Nix 2.8.0, Debian nix-bin, the
// version REAL-TOOLS.md was observed with.
const DefaultNixVersion = "2.8"

// Phrasing renders the stderr lines of nix-store/nix-env in the wording of
// one Nix version. Only the signature texts differ between versions (Nix's
// source, by version, per REAL-TOOLS.md); every other line follows Nix 2.8
// (observed).
type Phrasing struct {
	major, minor int
}

// NixPhrasing returns the phrasing of Nix version "MAJOR.MINOR[.PATCH]"
// ("2.3", "2.8", "2.13.1"). Errors: the version does not parse.
func NixPhrasing(version string) (Phrasing, error) {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return Phrasing{}, fmt.Errorf("sim: Nix version %q: want MAJOR.MINOR", version)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || major != 2 || minor < 0 {
		return Phrasing{}, fmt.Errorf("sim: Nix version %q: want 2.N", version)
	}
	return Phrasing{major: major, minor: minor}, nil
}

// Version returns "MAJOR.MINOR".
func (p Phrasing) Version() string { return fmt.Sprintf("%d.%d", p.major, p.minor) }

// UntrustedSubstitute is the warning Nix prints when a substituter's copy of
// path is not signed by a trusted key; the realise then fails generically.
func (p Phrasing) UntrustedSubstitute(path, url string) string {
	switch {
	case p.minor <= 5:
		// Nix 2.0-2.5 (Nix source).
		return fmt.Sprintf("warning: substituter '%s' does not have a valid signature for path '%s'", url, path)
	case p.minor <= 9:
		// Nix 2.6-2.9 (observed with Nix 2.8, Debian nix-bin).
		return fmt.Sprintf("warning: the substitute for '%s' from '%s' is not signed by any of the keys in 'trusted-public-keys'", path, url)
	default:
		// Nix >= 2.10 (Nix source).
		return fmt.Sprintf("warning: ignoring substitute for '%s' from '%s', as it's not signed by any of the keys in 'trusted-public-keys'", path, url)
	}
}

// LacksSignature is the error Nix raises when adding path to a store that
// requires signatures and none is trusted.
func (p Phrasing) LacksSignature(path string) string {
	if p.minor <= 11 {
		// Nix <= 2.11 (Nix source).
		return fmt.Sprintf("error: cannot add path '%s' because it lacks a valid signature", path)
	}
	// Nix >= 2.12 (Nix source).
	return fmt.Sprintf("error: cannot add path '%s' because it lacks a signature by a trusted key", path)
}

// RealisationLacksSignature is the error of Nix >= 2.12 for an untrusted
// content-addressed realisation; older versions have no such text and get
// LacksSignature of id instead.
func (p Phrasing) RealisationLacksSignature(id string) string {
	if p.minor <= 11 {
		return p.LacksSignature(id)
	}
	// Nix >= 2.12 (Nix source).
	return fmt.Sprintf("error: cannot register realisation '%s' because it lacks a signature by a trusted key", id)
}

// DontKnowHowToBuild lists paths no substituter can provide (Nix 2.8,
// observed).
func (p Phrasing) DontKnowHowToBuild(path string) string {
	return "don't know how to build these paths:\n  " + path
}

// BuildFailed is the last line of every failed realise (Nix 2.8, observed).
func (p Phrasing) BuildFailed(path string) string {
	return fmt.Sprintf("error: build of '%s' failed", path)
}

// WillFetch announces a substitution (Nix 2.8: "this path will be fetched").
func (p Phrasing) WillFetch(path string) string {
	return "this path will be fetched (0.00 MiB download, 0.00 MiB unpacked):\n  " + path
}

// Copying announces the copy from one substituter (Nix 2.8, observed).
func (p Phrasing) Copying(path, url string) string {
	return fmt.Sprintf("copying path '%s' from '%s'...", path, url)
}

// HashMismatch is the error for a NAR whose content was replaced (Nix 2.8,
// observed: the specified/got lines are indented by nine spaces and carry
// base-32 sha256 hashes).
func (p Phrasing) HashMismatch(path string) string {
	return fmt.Sprintf("error: hash mismatch importing path '%s';\n         specified: sha256:%s\n         got:       sha256:%s",
		path, sha256Base32("specified "+path), sha256Base32("got "+path))
}

// NarMissing is the error for a narinfo whose NAR file is gone (Nix 2.8,
// observed; the cache is not named).
func (p Phrasing) NarMissing(path string) string {
	return fmt.Sprintf("error: file 'nar/%s.nar.xz' does not exist in binary cache", sha256Base32("nar "+path))
}

// BadCompression is the error for a NAR that is not compressed data (Nix
// 2.8, observed).
func (p Phrasing) BadCompression() string {
	return "error: input compression not recognized"
}

// UnreachableRetryDelays are the waits, in milliseconds, that Nix 2.8
// announced between its four attempts to reach a dead http cache in one
// observed run (real Nix adds random jitter; fixed here).
var UnreachableRetryDelays = []int{259, 526, 1323, 2462}

// Unreachable is what Nix 2.8 prints for an http(s) substituter that cannot
// be connected to (observed, curl error 7): four retry warnings about the
// first file a binary cache store fetches (nix-cache-info), then a final
// warning; the substituter is then skipped.
func (p Phrasing) Unreachable(url string) string {
	file := strings.TrimRight(url, "/") + "/nix-cache-info"
	lines := make([]string, 0, len(UnreachableRetryDelays)+1)
	for _, ms := range UnreachableRetryDelays {
		lines = append(lines, fmt.Sprintf("warning: error: unable to download '%s': Couldn't connect to server (7); retrying in %d ms", file, ms))
	}
	lines = append(lines, fmt.Sprintf("warning: unable to download '%s': Couldn't connect to server (7)", file))
	return strings.Join(lines, "\n")
}

// AddRootWarning ends a successful nix-store --realise without --add-root
// (Nix 2.8, observed).
func (p Phrasing) AddRootWarning() string {
	return "warning: you did not specify '--add-root'; the result might be removed by the garbage collector"
}

// UsageHint follows every usage error of nix-store and nix-env (Nix 2.8,
// observed): "Try 'PROG --help' for more information.".
func (p Phrasing) UsageHint(prog string) string {
	return fmt.Sprintf("Try '%s --help' for more information.", prog)
}
