package real

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

const sysPath = "/nix/store/8mrzf5gazbs66c7hcfw1hknl12gk67by-nixos-system-web1-24.05"

// Stderr texts of nix-store --realise as Nix 2.8 (Debian nix-bin) printed
// them for each case of REAL-TOOLS.md, cache directory renamed.
const (
	fetchPreamble = "this path will be fetched (0.00 MiB download, 0.00 MiB unpacked):\n  " + sysPath + "\n"
	buildFailed   = "error: build of '" + sysPath + "' failed\n"

	stderrUntrusted28 = fetchPreamble +
		"warning: the substitute for '" + sysPath + "' from 'file:///srv/cache' is not signed by any of the keys in 'trusted-public-keys'\n" +
		buildFailed
	stderrNotFound28 = "don't know how to build these paths:\n  /nix/store/00000000000000000000000000000000-nixos-system-x\n" +
		"error: build of '/nix/store/00000000000000000000000000000000-nixos-system-x' failed\n"
	stderrHashMismatch28 = fetchPreamble +
		"copying path '" + sysPath + "' from 'file:///srv/cache'...\n" +
		"error: hash mismatch importing path '" + sysPath + "';\n" +
		"         specified: sha256:0kzhcsd4kzjj5mwwsyksjnlvmqcl6cqavywfz2qrysl8wbfskvh2\n" +
		"         got:       sha256:11g0k4ffzlwissl39qn3zprir05hk937mj6273h04wwg10d3z5gh\n" +
		buildFailed
	stderrMissingNar28 = fetchPreamble +
		"copying path '" + sysPath + "' from 'file:///srv/cache'...\n" +
		"error: file 'nar/01m4fjz84xdrqr5asw0cjmbgv2rwdx8j2bal05gimwd2nbipxrp9.nar.xz' does not exist in binary cache\n" +
		buildFailed
	stderrGarbageNar28 = fetchPreamble +
		"copying path '" + sysPath + "' from 'file:///srv/cache'...\n" +
		"error: input compression not recognized\n" +
		buildFailed
	stderrUnreachable28 = "warning: error: unable to download 'http://127.0.0.1:9/nix-cache-info': Couldn't connect to server (7); retrying in 309 ms\n" +
		"warning: error: unable to download 'http://127.0.0.1:9/nix-cache-info': Couldn't connect to server (7); retrying in 688 ms\n" +
		"warning: error: unable to download 'http://127.0.0.1:9/nix-cache-info': Couldn't connect to server (7); retrying in 1355 ms\n" +
		"warning: error: unable to download 'http://127.0.0.1:9/nix-cache-info': Couldn't connect to server (7); retrying in 2132 ms\n" +
		"warning: unable to download 'http://127.0.0.1:9/nix-cache-info': Couldn't connect to server (7)\n" +
		"don't know how to build these paths:\n  " + sysPath + "\n" +
		buildFailed

	// HTTP substituter on 127.0.0.1 answering a status with an empty body
	// (observed with Nix 2.8; nar file hash shortened).
	httpCache      = "http://127.0.0.1:18731"
	narURL         = httpCache + "/nar/0883zmvl.nar.xz"
	narinfoURL     = httpCache + "/8mrzf5gazbs66c7hcfw1hknl12gk67by.narinfo"
	stderrNar50028 = fetchPreamble +
		"copying path '" + sysPath + "' from '" + httpCache + "'...\n" +
		"warning: error: unable to download '" + narURL + "': HTTP error 500 ('Internal Server Error'); retrying in 349 ms\n" +
		"warning: error: unable to download '" + narURL + "': HTTP error 500 ('Internal Server Error'); retrying in 663 ms\n" +
		"warning: error: unable to download '" + narURL + "': HTTP error 500 ('Internal Server Error'); retrying in 1251 ms\n" +
		"warning: error: unable to download '" + narURL + "': HTTP error 500 ('Internal Server Error'); retrying in 2288 ms\n" +
		"error: unable to download '" + narURL + "': HTTP error 500 ('Internal Server Error')\n" +
		buildFailed
	// The narinfo answering 500: no "build failed" line (observed).
	stderrNarinfo50028 = "warning: error: unable to download '" + narinfoURL + "': HTTP error 500 ('Internal Server Error'); retrying in 272 ms\n" +
		"error: unable to download '" + narinfoURL + "': HTTP error 500 ('Internal Server Error')\n"
	// nix-cache-info answering 401 or 403 (observed).
	stderrCacheInfo40328 = "warning: '" + httpCache + "' does not appear to be a binary cache\n" +
		"don't know how to build these paths:\n  " + sysPath + "\n" + buildFailed
	// The NAR answering 401: folded into "does not exist" (observed).
	stderrNar40128 = fetchPreamble +
		"copying path '" + sysPath + "' from '" + httpCache + "'...\n" +
		"error: file 'nar/0883zmvl.nar.xz' does not exist in binary cache '" + httpCache + "'\n" + buildFailed
	// The --debug status line for it (observed).
	debugNar40128 = "finished download of '" + narURL + "'; curl status = 0, HTTP status = 401, body = 0 bytes\n"
)

func TestClassifyRealise(t *testing.T) {
	tests := []struct {
		name   string
		stderr string
		want   pipeline.RealiseFailure
	}{
		{"Nix 2.8 substitute not signed by a trusted key", stderrUntrusted28, pipeline.RealiseUntrusted},
		{"Nix 2.0-2.5 substituter warning", fetchPreamble +
			"warning: substituter 'https://cache.example' does not have a valid signature for path '" + sysPath + "'\n" +
			"don't know how to build these paths:\n  " + sysPath + "\n" + buildFailed, pipeline.RealiseUntrusted},
		{"Nix 2.10+ ignoring substitute", fetchPreamble +
			"warning: ignoring substitute for '" + sysPath + "' from 'https://cache.example', as it's not signed by any of the keys in 'trusted-public-keys'\n" +
			"don't know how to build these paths:\n  " + sysPath + "\n" + buildFailed, pipeline.RealiseUntrusted},
		{"Nix 2.11 and older, path lacks a valid signature",
			"error: cannot add path '" + sysPath + "' because it lacks a valid signature\n", pipeline.RealiseUntrusted},
		{"Nix 2.12+, path lacks a trusted signature",
			"error: cannot add path '" + sysPath + "' because it lacks a signature by a trusted key\n", pipeline.RealiseUntrusted},
		{"Nix 2.12+, realisation lacks a trusted signature",
			"error: cannot register realisation 'sha256:abcd!out' because it lacks a signature by a trusted key\n", pipeline.RealiseUntrusted},
		{"untrusted warning far above the last line", stderrUntrusted28 + "warning: x\nwarning: y\nerror: z\n", pipeline.RealiseUntrusted},
		{"Nix 2.8 path in no cache", stderrNotFound28, pipeline.RealiseNotFound},
		{"Nix 2.8 NAR content replaced", stderrHashMismatch28, pipeline.RealiseHashMismatch},
		{"newer Nix content-addressed hash mismatch",
			"error: ca hash mismatch importing path '" + sysPath + "';\n", pipeline.RealiseHashMismatch},
		{"Nix 2.8 narinfo without NAR", stderrMissingNar28, pipeline.RealiseCorrupt},
		{"Nix 2.8 garbage NAR", stderrGarbageNar28, pipeline.RealiseCorrupt},
		{"Nix 2.8 unreachable http cache", stderrUnreachable28, pipeline.RealiseUnreachable},
		{"unresolvable cache host",
			"warning: unable to download 'https://cache.invalid/nix-cache-info': Couldn't resolve host name (6)\n" + stderrNotFound28,
			pipeline.RealiseUnreachable},
		{"Nix 2.8 hash too short", "error: 'not-a-hash' is too short to be a valid store path\n", pipeline.RealiseInvalidPath},
		{"Nix 2.8 illegal base-32 character",
			"error: store path 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-x' contains illegal base-32 character 'e'\n", pipeline.RealiseInvalidPath},
		{"Nix 2.8 path outside the store", "error: path '/etc' is not in the Nix store\n", pipeline.RealiseInvalidPath},
		{"untrusted and unreachable together", stderrUnreachable28 + stderrUntrusted28, pipeline.RealiseUntrusted},
		{"unreachable and hash mismatch together", stderrUnreachable28 + stderrHashMismatch28, pipeline.RealiseHashMismatch},
		{"Nix 2.8 NAR answering HTTP 500", stderrNar50028, pipeline.RealiseUnreachable},
		{"Nix 2.8 narinfo answering HTTP 500", stderrNarinfo50028, pipeline.RealiseUnreachable},
		{"Nix 2.3 HTTP 502", "error: unable to download '" + narURL + "': HTTP error 502\n", pipeline.RealiseUnreachable},
		{"current Nix HTTP 503", "error: unable to download '" + narURL + "': HTTP error 503 (Service Unavailable)\n", pipeline.RealiseUnreachable},
		{"current Nix connection refused", "error: unable to download '" + narURL + "': Failed to connect to 127.0.0.1 port 9 after 0 ms: Could not connect to server (curl error code=7)\n", pipeline.RealiseUnreachable},
		{"Nix 2.8 timeout", "error: unable to download '" + narURL + "': Timeout was reached (28)\n", pipeline.RealiseUnreachable},
		{"Nix 2.8 nix-cache-info refused", stderrCacheInfo40328, pipeline.RealiseUnreachable},
		{"Nix 2.8 NAR answering 401, as printed", stderrNar40128, pipeline.RealiseCorrupt},
		{"Nix 2.8 NAR answering 401, with the --debug status", stderrNar40128 + debugNar40128, pipeline.RealiseUnauthorized},
		{"Nix 2.8 narinfo answering 403 at --debug", "finished download of '" + narinfoURL + "'; curl status = 0, HTTP status = 403, body = 0 bytes\n" + stderrNotFound28, pipeline.RealiseUnauthorized},
		{"Nix 2.3 HTTP 401 text", "error: unable to download '" + narURL + "': HTTP error 401\n", pipeline.RealiseUnauthorized},
		{"Nix 2.4+ HTTP 407 text", "error: unable to download '" + narURL + "': HTTP error 407 ('Proxy Authentication Required')\n", pipeline.RealiseUnauthorized},
		{"a 404 at --debug is no verdict", "finished download of '" + narinfoURL + "'; curl status = 0, HTTP status = 404, body = 0 bytes\n" + stderrNotFound28, pipeline.RealiseNotFound},
		{"unknown failure", "error: getting status of '/nix/store/x': No such file or directory\n", pipeline.RealiseOther},
		{"empty stderr", "", pipeline.RealiseOther},
		{"quoted phrase split over lines does not match",
			"error: unable to download 'http://x/y':\nCouldn't connect to server (7)\n", pipeline.RealiseOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ClassifyRealise(tt.stderr))
		})
	}
}
