package fsview

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestCutTempSuffixCutsTempNames pins that CutTempSuffix recognises every
// name tempName makes, so the two cannot drift apart.
func TestCutTempSuffixCutsTempNames(t *testing.T) {
	for range 100 {
		name := tempName("/var/lib/nixfleet-activate/in-flight.json")
		before, ok := CutTempSuffix(name)
		assert.True(t, ok, name)
		assert.Equal(t, "/var/lib/nixfleet-activate/.in-flight.json", before)
	}
}

func TestCutTempSuffix(t *testing.T) {
	hex := "0123456789abcdef"
	cases := []struct {
		name, before string
		found        bool
	}{
		{name: ".tmp-" + hex, before: "", found: true},
		{name: ".x.tmp-" + hex, before: ".x", found: true},
		{name: ".x.tmp-" + hex[1:], before: ".x.tmp-" + hex[1:]},
		{name: ".x.tmp-" + hex + "0", before: ".x.tmp-" + hex + "0"},
		{name: ".x.tmp-" + strings.ToUpper(hex), before: ".x.tmp-" + strings.ToUpper(hex)},
		{name: ".x.tmp-" + hex + "\n", before: ".x.tmp-" + hex + "\n"},
		{name: ".x-tmp-" + hex, before: ".x-tmp-" + hex},
		{name: "", before: ""},
	}
	for _, c := range cases {
		before, found := CutTempSuffix(c.name)
		assert.Equal(t, c.before, before, c.name)
		assert.Equal(t, c.found, found, c.name)
	}
}
