package real

import (
	"regexp"
	"sync"

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
// signature refusal is the cause that matters; then the fatal content errors
// (hash mismatch); then unauthorized before corrupt-cache, because Nix 2.3 to
// current fold an HTTP 401/403/407 into "not there" (the narinfo: "don't know
// how to build"; the NAR: "does not exist in binary cache") and only the
// status lines of a --debug rerun (see DiagnoseRealiseCmd) tell them apart;
// then corrupt-cache, unreachable (Nix 2.8 ends its retry warnings with
// "don't know how to build"), path syntax, and not-found last: it is the
// generic consequence of several of the above, so it stands only when the
// substituters said nothing else.
//
// The table is compiled on first use, not at start-up: 19 regular
// expressions cost about half a millisecond of every run's start, and only
// a failed realise reads them.
var realiseRules = sync.OnceValue(func() []realiseRule {
	return []realiseRule{
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
		{pipeline.RealiseUnauthorized, []*regexp.Regexp{
			// Nix 2.3-current at --debug (observed with Nix 2.8): finished
			// download of 'URL'; curl status = 0, HTTP status = 401, body = 0
			// bytes (also "finished upload of" for nix-cache-info).
			regexp.MustCompile(`finished (download|upload) of '[^'\n]*'; curl status = \d+, HTTP status = 40[137]\b`),
			// The error text every Nix 2.3-current builds for an HTTP status
			// (filetransfer.cc, download.cc in 2.3): "unable to download 'URL':
			// HTTP error 401" (2.3), "... HTTP error 401 ('Unauthorized')" (2.4
			// to 2.x, the form Nix 2.8 prints for 500, observed), "... HTTP error
			// 401 (Unauthorized)" (later). Binary cache stores fold 401/403/407
			// into "not there" before printing, so this shows only where Nix
			// does not.
			regexp.MustCompile(`unable to (download|upload) '[^'\n]*': HTTP error 40[137]\b`),
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
			// Any curl failure to reach the server, by code: 5/6 resolve proxy/
			// host, 7 connect, 28 timeout, 35 TLS handshake, 52 empty reply,
			// 55/56 send/receive: "...: TEXT (7)" in Nix 2.3-2.x (observed with
			// 2.8), "...: TEXT (7) ERRBUF" later, "...: TEXT (curl error
			// code=7)" in current Nix (filetransfer.cc).
			regexp.MustCompile(`unable to download '[^'\n]*': [^\n]*\((curl error code=)?(5|6|7|28|35|52|55|56)\)`),
			// HTTP 5xx from a substituter, retried then fatal (observed with Nix
			// 2.8: "HTTP error 500 ('Internal Server Error')"; 2.3: "HTTP error
			// 500"; later "HTTP error 500 (Internal Server Error)").
			regexp.MustCompile(`unable to download '[^'\n]*': HTTP error 5\d\d\b`),
			// The same status at --debug (Nix 2.3-current, observed with 2.8).
			regexp.MustCompile(`finished download of '[^'\n]*'; curl status = \d+, HTTP status = 5\d\d\b`),
			// Nix 2.8 (observed) when a substituter's nix-cache-info cannot be
			// read (HTTP 401, 403 or 404): 'URL' does not appear to be a binary
			// cache; the substituter is then skipped.
			regexp.MustCompile(`'[^'\n]*' does not appear to be a binary cache`),
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
})

// ClassifyRealise maps the whole standard error of a failed nix-store
// --realise to a failure kind, following the phrasings of Nix 2.0 to 2.12+
// listed in REAL-TOOLS.md. It scans all of stderr, not only the last line:
// the decisive message is often an earlier warning. Unmatched text is
// pipeline.RealiseOther.
func ClassifyRealise(stderr string) pipeline.RealiseFailure {
	for _, rule := range realiseRules() {
		for _, re := range rule.patterns {
			if re.MatchString(stderr) {
				return rule.kind
			}
		}
	}
	return pipeline.RealiseOther
}
