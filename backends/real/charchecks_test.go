package real

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestIsInvocationIDKeepsTheRegexpsLanguage compares isInvocationID with
// the regular expression it replaced (compiled at every start) on edge
// cases and with every byte in place of the first and the last digit.
func TestIsInvocationIDKeepsTheRegexpsLanguage(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{32}$`)
	id := "0123456789abcdef0123456789abcdef"
	cases := []struct {
		id   string
		want bool
	}{
		{"", false},
		{id, true},
		{strings.Repeat("f", 32), true},
		{id[1:], false},
		{id + "0", false},
		{strings.ToUpper(id), false},
		{id[:31] + "g", false},
		{id[:31] + "/", false}, {id[:31] + ":", false}, {id[:31] + "`", false},
		{id + "\n", false},
		{"\n" + id[1:], false},
		{id[:30] + "é", false}, // 31 characters, 32 bytes
		{id[:31] + "é", false},
		{id[:31] + "\xff", false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, re.MatchString(c.id), "regexp on %q", c.id)
		assert.Equal(t, c.want, isInvocationID(c.id), "isInvocationID(%q)", c.id)
	}
	for b := range 256 {
		s := string([]byte{byte(b)})
		for _, candidate := range []string{s + id[1:], id[:31] + s} {
			assert.Equal(t, re.MatchString(candidate), isInvocationID(candidate), "isInvocationID(%q)", candidate)
		}
	}
}

// TestOnlyUnitNameCharsKeepsTheRegexpsLanguage compares onlyUnitNameChars
// with the regular expression it replaced (compiled at every start) on
// edge cases and on every byte alone and inside a name.
func TestOnlyUnitNameCharsKeepsTheRegexpsLanguage(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9:_.@\\-]+$`)
	cases := []struct {
		name string
		want bool
	}{
		{"", false},
		{"nixfleet-activate-switch", true},
		{"check@web:1_a.b\\x", true},
		{"-", true},
		{"@", true},
		{"\\", true},
		{strings.Repeat("a", 1000), true},
		{"a b", false},
		{"a/b", false},
		{"a$b", false},
		{"a\n", false},
		{"é", false},
		{"a\xff", false},
		{"/", false}, {"0", true}, {"9", true}, {":", true}, {";", false},
		{"?", false}, {"@", true}, {"A", true}, {"Z", true}, {"[", false},
		{"]", false}, {"^", false}, {"_", true}, {"`", false}, {"a", true},
		{"z", true}, {"{", false}, {",", false}, {".", true},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, re.MatchString(c.name), "regexp on %q", c.name)
		assert.Equal(t, c.want, onlyUnitNameChars(c.name), "onlyUnitNameChars(%q)", c.name)
	}
	for b := range 256 {
		s := string([]byte{byte(b)})
		for _, name := range []string{s, "unit" + s + "name"} {
			assert.Equal(t, re.MatchString(name), onlyUnitNameChars(name), "onlyUnitNameChars(%q)", name)
		}
	}
}
