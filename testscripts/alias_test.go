package testscripts

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestValidAliasKeepsTheRegexpsLanguage compares validAlias with the
// regular expression it replaced (compiled at every start of the binary)
// on edge cases and with every byte first, alone and after a letter.
func TestValidAliasKeepsTheRegexpsLanguage(t *testing.T) {
	re := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	cases := []struct {
		alias string
		want  bool
	}{
		{"", false},
		{"new", true},
		{"a", true},
		{"old_2", true},
		{"a_", true},
		{"_a", false},
		{"2a", false},
		{"New", false},
		{"nEw", false},
		{"PATH", false},
		{"new\n", false},
		{"né", false},
		{"é", false},
		{"a\xff", false},
		{"a-b", false},
		{"`", false}, {"{", false}, {"a/", false}, {"a0", true}, {"a9", true}, {"a:", false},
		{"a@", false}, {"aA", false}, {"aZ", false}, {"a[", false}, {"a^", false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, re.MatchString(c.alias), "regexp on %q", c.alias)
		assert.Equal(t, c.want, validAlias(c.alias), "validAlias(%q)", c.alias)
	}
	for b := range 256 {
		s := string([]byte{byte(b)})
		for _, alias := range []string{s, s + "a", "a" + s, "a" + s + "b"} {
			assert.Equal(t, re.MatchString(alias), validAlias(alias), "validAlias(%q)", alias)
		}
	}
}
