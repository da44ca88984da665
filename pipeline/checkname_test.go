package pipeline

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestValidCheckNameKeepsTheRegexpsLanguage compares validCheckName with
// the regular expression it replaced (compiled at every start) on edge
// cases and on every byte alone and after a valid name.
func TestValidCheckNameKeepsTheRegexpsLanguage(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	cases := []struct {
		name string
		want bool
	}{
		{"", false},
		{"a", true},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("Z", 64), true},
		{strings.Repeat("9", 65), false},
		{strings.Repeat("a", 63) + "é", false}, // 64 characters, 65 bytes
		{strings.Repeat("a", 62) + "é", false},
		{"disk-space_OK-01", true},
		{"-", true},
		{"_", true},
		{"a b", false},
		{"a.b", false},
		{"a/b", false},
		{"a\n", false},
		{"\na", false},
		{"a\x00", false},
		{"é", false},
		{"\xff", false},
		{"a\xc3", false},
		{"ｆｕｌｌ", false},
		{"/", false}, {"0", true}, {"9", true}, {":", false},
		{"@", false}, {"A", true}, {"Z", true}, {"[", false},
		{"`", false}, {"z", true}, {"{", false}, {"^", false},
		{",", false}, {".", false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, re.MatchString(c.name), "regexp on %q", c.name)
		assert.Equal(t, c.want, validCheckName(c.name), "validCheckName(%q)", c.name)
	}
	for b := range 256 {
		for _, name := range []string{string([]byte{byte(b)}), "check-" + string([]byte{byte(b)})} {
			assert.Equal(t, re.MatchString(name), validCheckName(name), "validCheckName(%q)", name)
		}
	}
}
