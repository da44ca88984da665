// Package nixprofile names the generation links of a Nix profile as Nix
// 2.8's nix-env writes them (libstore/profiles.cc): generation N of the
// profile /nix/var/nix/profiles/system is the link
// /nix/var/nix/profiles/system-N-link beside it, N a decimal number from
// 1, and the profile itself is a link to the relative name "system-N-link".
// It has no dependencies, so the pipeline, the backends, the explorer and
// the binary all parse and build those names with it.
package nixprofile

import (
	"strconv"
	"strings"
)

// Link returns the path of the profile's generation n: "<profile>-<n>-link"
// (a relative profile name gives a relative name).
func Link(profile string, n int) string {
	return profile + "-" + strconv.Itoa(n) + "-link"
}

// Generation parses N from the name of a generation link of profile.
// profile and link may be paths or base names ("/nix/var/nix/profiles/system"
// and "system-3-link", as readlink of the profile gives it); only their
// last elements are compared, trailing slashes ignored. ok is false unless
// link's last element is exactly "<profile's last element>-N-link" with N
// one or more ASCII digits that fit an int.
func Generation(profile, link string) (n int, ok bool) {
	mid, ok := strings.CutPrefix(base(link), base(profile)+"-")
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(mid, "-link")
	if !ok || digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil {
		return 0, false
	}
	return n, true
}

// base is the last element of a slash path, trailing slashes ignored.
func base(p string) string {
	p = strings.TrimRight(p, "/")
	return p[strings.LastIndexByte(p, '/')+1:]
}
