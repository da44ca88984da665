package sim

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFakeBasenameIsValidAndDeterministic(t *testing.T) {
	a := FakeBasename("nixos-system-x-23.05", "1")
	assert.Empty(t, checkBasename(a))
	assert.Equal(t, a, FakeBasename("nixos-system-x-23.05", "1"))
	assert.NotEqual(t, a, FakeBasename("nixos-system-x-23.05", "2"))
	assert.True(t, strings.HasSuffix(a, "-nixos-system-x-23.05"))
}

// The texts below were observed with Nix 2.8.0 (Debian nix-bin).
func TestParseStorePathArgFollowsNix28(t *testing.T) {
	zero := strings.Repeat("0", 32)
	exists := func(p string) bool { return p == "/etc/passwd" || p == "/nix/store" }
	cases := []struct{ arg, base, err string }{
		{"/nix/store/" + zero + "-x", zero + "-x", ""},
		{"/nix/store/" + zero + "-a/bin/switch-to-configuration", zero + "-a", ""},
		{"/nix/store/" + zero + "-a/", zero + "-a", ""},
		{"/nix/store/" + zero + "Xname", zero + "Xname", ""},
		{"/nix/store/not-a-hash", "not-a-hash", "error: 'not-a-hash' is too short to be a valid store path"},
		{"/nix/store/" + zero, zero, "error: '" + zero + "' is too short to be a valid store path"},
		{"/nix/store/" + zero + "-", zero + "-", "error: store path '" + zero + "-' has an empty name"},
		{"/nix/store/" + strings.Repeat("e", 32) + "-x", strings.Repeat("e", 32) + "-x",
			"error: store path '" + strings.Repeat("e", 32) + "-x' contains illegal base-32 character 'e'"},
		{"/nix/store/" + zero + "-a@b", zero + "-a@b", "error: store path '" + zero + "-a@b' contains illegal character '@'"},
		{"/nix/store/../etc/passwd", "", "error: getting status of '/nix/etc/passwd': No such file or directory"},
		{"/etc/passwd", "", "error: path '/etc/passwd' is not in the Nix store"},
		{"/nix/store", "", "error: path '/nix/store' is not in the Nix store"},
		{"/nix/store/", "", "error: path '/nix/store' is not in the Nix store"},
	}
	for _, c := range cases {
		got := parseStorePathArg(c.arg, exists)
		assert.Equal(t, c.err, got.errLine, c.arg)
		if c.err == "" || got.basename != "" {
			assert.Equal(t, c.base, got.basename, c.arg)
		}
	}
}
