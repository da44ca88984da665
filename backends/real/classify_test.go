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
