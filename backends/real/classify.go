package real

import (
	"regexp"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// realiseRule maps stderr phrasings of nix-store --realise to a failure kind.
type realiseRule struct {
	kind     pipeline.RealiseFailure
	patterns []*regexp.Regexp
}

// realiseRules is tried in order; the first rule with a matching pattern
// anywhere in stderr wins.
//
// LOADBEARING: untrusted comes first because a refused substitute is only a
// warning followed by a generic failure (Nix 2.8 ends with "build of 'P'
// failed"; other versions may add "don't know how to build"), and the
// signature refusal is the cause that matters; fatal cache errors (hash
// mismatch, corrupt NAR) come next, then unreachable (Nix 2.8 ends its retry
// warnings with "don't know how to build"), then path syntax, and not-found
// last since it is the generic consequence of several of the above.
var realiseRules = []realiseRule{
	{pipeline.RealiseUntrusted, []*regexp.Regexp{
		// Nix 2.0-2.5 substituter warning: substituter 'S' does not have a
		// valid signature for path 'P'.
		regexp.MustCompile(`substituter '[^'\n]*' does not have a valid signature for path`),
		// Nix 2.6-2.9 (observed with Nix 2.8, Debian nix-bin): the substitute
		// for 'P' from 'S' is not signed by any of the keys in
		// 'trusted-public-keys'.
		regexp.MustCompile(`the substitute for '[^'\n]*' from '[^'\n]*' is not signed by any of the keys in 'trusted-public-keys'`),
		// Nix >= 2.10: ignoring substitute for 'P' from 'S', as it's not
		// signed by any of the keys in 'trusted-public-keys'.
		regexp.MustCompile(`ignoring substitute for '[^'\n]*' from '[^'\n]*', as it's not signed by any of the keys in 'trusted-public-keys'`),
		// Nix <= 2.11: cannot add path 'P' because it lacks a valid signature.
		regexp.MustCompile(`cannot add path '[^'\n]*' because it lacks a valid signature`),
		// Nix >= 2.12: cannot add path 'P' / cannot register realisation 'R'
		// because it lacks a signature by a trusted key.
		regexp.MustCompile(`cannot (add path|register realisation) '[^'\n]*' because it lacks a signature by a trusted key`),
	}},
	{pipeline.RealiseHashMismatch, []*regexp.Regexp{
		// Nix 2.x (observed with Nix 2.8): hash mismatch importing path 'P';
		// newer versions also print "ca hash mismatch importing path".
		regexp.MustCompile(`hash mismatch importing path`),
	}},
	{pipeline.RealiseCorrupt, []*regexp.Regexp{
		// Nix 2.8 (observed): narinfo present, NAR missing:
		// file 'nar/X.nar.xz' does not exist in binary cache 'S'.
		regexp.MustCompile(`does not exist in binary cache`),
		// Nix 2.8 (observed): a NAR that is not valid compressed data.
		regexp.MustCompile(`input compression not recognized`),
	}},
	{pipeline.RealiseUnreachable, []*regexp.Regexp{
		// Nix 2.8 (observed): unable to download 'URL': Couldn't connect to
		// server (7). The other phrasings are curl's own texts for the same
		// family (name resolution, code 6; timeout, code 28).
		regexp.MustCompile(`unable to download '[^'\n]*': (Couldn't connect|Couldn't resolve|Could not resolve|Timeout was reached)`),
	}},
	{pipeline.RealiseInvalidPath, []*regexp.Regexp{
		// Nix 2.8 (observed): 'X' is too short to be a valid store path.
		regexp.MustCompile(`is too short to be a valid store path`),
		// Nix 2.8 (observed): store path 'X' contains illegal base-32 character 'e'.
		regexp.MustCompile(`contains illegal base-32 character`),
		// Nix 2.8 (observed): path '/etc' is not in the Nix store.
		regexp.MustCompile(`path '[^'\n]*' is not in the Nix store`),
	}},
	{pipeline.RealiseNotFound, []*regexp.Regexp{
		// Nix 2.x (observed with Nix 2.8): no substituter has the path and
		// there is no derivation to build it.
		regexp.MustCompile(`don't know how to build these paths`),
	}},
}

// ClassifyRealise maps the whole standard error of a failed nix-store
// --realise to a failure kind, following the phrasings of Nix 2.0 to 2.12+
// listed in REAL-TOOLS.md. It scans all of stderr, not only the last line:
// the decisive message is often an earlier warning. Unmatched text is
// pipeline.RealiseOther.
func ClassifyRealise(stderr string) pipeline.RealiseFailure {
	for _, rule := range realiseRules {
		for _, re := range rule.patterns {
			if re.MatchString(stderr) {
				return rule.kind
			}
		}
	}
	return pipeline.RealiseOther
}
