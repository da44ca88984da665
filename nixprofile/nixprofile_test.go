package nixprofile_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/nixfleet/nixfleet-activate/nixprofile"
)

func TestGeneration(t *testing.T) {
	const profile = "/nix/var/nix/profiles/system"
	for _, tc := range []struct {
		link string
		want int
		ok   bool
	}{
		{"system-3-link", 3, true},
		{"/nix/var/nix/profiles/system-12-link", 12, true},
		{"system-007-link/", 7, true},
		{"system-link", 0, false},
		{"system--link", 0, false},
		{"system-+3-link", 0, false},
		{"system--3-link", 0, false},
		{"system-3-link-x", 0, false},
		{"other-3-link", 0, false},
		{"system-profile-3-link", 0, false},
		{"system-99999999999999999999-link", 0, false},
		{"/nix/store/abc-nixos-system-3-link", 0, false},
		{"", 0, false},
	} {
		n, ok := nixprofile.Generation(profile, tc.link)
		assert.Equal(t, tc.ok, ok, tc.link)
		assert.Equal(t, tc.want, n, tc.link)
	}
	n, ok := nixprofile.Generation("system", "system-4-link")
	assert.True(t, ok)
	assert.Equal(t, 4, n, "a base name as profile")
}

func TestLinkRoundTrips(t *testing.T) {
	assert.Equal(t, "/nix/var/nix/profiles/system-5-link", nixprofile.Link("/nix/var/nix/profiles/system", 5))
	assert.Equal(t, "system-5-link", nixprofile.Link("system", 5))
	n, ok := nixprofile.Generation("/p/system", nixprofile.Link("/p/system", 41))
	assert.True(t, ok)
	assert.Equal(t, 41, n)
}
