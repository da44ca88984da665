package transcript

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestNormalNameKeepsTheRegexpsReplacement compares normalName with the
// regular expression replacement it replaced (compiled at every start) on
// edge cases and with every byte in place of the suffix's first digit and
// of its dot.
func TestNormalNameKeepsTheRegexpsReplacement(t *testing.T) {
	re := regexp.MustCompile(`\.tmp-[0-9a-f]{16}$`)
	old := func(prefix, name string) string { return prefix + re.ReplaceAllString(name, ".tmp-*") }
	hex := "0123456789abcdef"
	names := []string{
		"", ".tmp-", ".tmp-" + hex, "/x/.in-flight.json.tmp-" + hex, "/x/.in-flight.json.tmp-fedcba9876543210",
		"a.tmp-" + hex[1:], "a.tmp-" + hex + "0", "a.tmp-" + hex + "\n", "a.tmp-" + hex + "/b",
		"a.tmp-" + strings.ToUpper(hex), "a.tmp-0123456789abcdeg", "a-tmp-" + hex, "a.TMP-" + hex,
		"a.tmp-" + hex + ".tmp-" + hex, "é.tmp-" + hex, "\xff.tmp-" + hex, "\xe2.tmp-" + hex,
		"a.tmp-" + hex[:15] + "é", "/nix/var/nix/profiles/system-3-link",
	}
	for b := range 256 {
		names = append(names, "/x/.y.tmp-"+string([]byte{byte(b)})+hex[1:], "/x/.y"+string([]byte{byte(b)})+"tmp-"+hex)
	}
	for _, name := range names {
		for _, prefix := range []string{"", procPrefix} {
			assert.Equal(t, old(prefix, name), normalName(prefix, name), "normalName(%q, %q)", prefix, name)
		}
	}
	assert.Equal(t, "/x/.y.tmp-*", normalName("", "/x/.y.tmp-"+hex))
}
