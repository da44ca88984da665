package plan

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestIsTempNameKeepsTheRegexpsLanguage compares isTempName with the
// regular expression it replaced (compiled at every start) on edge cases
// and with every byte as the inner base, as the leading dot and in place
// of the suffix's last digit.
func TestIsTempNameKeepsTheRegexpsLanguage(t *testing.T) {
	re := regexp.MustCompile(`^\..+\.tmp-[0-9a-f]{16}$`)
	hex := "0123456789abcdef"
	cases := []struct {
		name string
		want bool
	}{
		{"", false},
		{".tmp-" + hex, false},
		{"..tmp-" + hex, false},
		{".x.tmp-" + hex, true},
		{"..x.tmp-" + hex, true},
		{"..tmp-" + hex + ".tmp-" + hex, true},
		{".in-flight.json.tmp-fedcba9876543210", true},
		{"x.tmp-" + hex, false},
		{"xx.tmp-" + hex, false},
		{".x.tmp-" + hex[1:], false},
		{".x.tmp-" + hex + "0", false},
		{".x.tmp-" + strings.ToUpper(hex), false},
		{".x.tmp-" + hex + "\n", false},
		{".x\n.tmp-" + hex, false},
		{".\n.tmp-" + hex, false},
		{".é.tmp-" + hex, true},
		{".\xff.tmp-" + hex, true},
		{".x.tmp-" + hex[:15] + "é", false},
		{".x-tmp-" + hex, false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, re.MatchString(c.name), "regexp on %q", c.name)
		assert.Equal(t, c.want, isTempName(c.name), "isTempName(%q)", c.name)
	}
	for b := range 256 {
		s := string([]byte{byte(b)})
		for _, name := range []string{"." + s + ".tmp-" + hex, s + "x.tmp-" + hex, ".x.tmp-" + hex[:15] + s} {
			assert.Equal(t, re.MatchString(name), isTempName(name), "isTempName(%q)", name)
		}
	}
}
