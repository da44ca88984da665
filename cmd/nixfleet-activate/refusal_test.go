package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestNonRootRefusalSummarySaysNotRoot: a non-root run on a host whose
// current-system cannot be read is summarised by its reason, not as
// "current-system unreadable" (which read as a broken host).
func TestNonRootRefusalSummarySaysNotRoot(t *testing.T) {
	saved := geteuid
	geteuid = func() int { return 1000 }
	t.Cleanup(func() { geteuid = saved })
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"--log-format", "text", "--current-system", "/nonexistent/current-system",
		"activate", "0a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-nixos-system-web-24.11"}, &stdout, &stderr)
	assert.Equal(t, ExitBadEnvironment, code, stderr.String())
	assert.Contains(t, stderr.String(), `msg="bad-environment at environment after 0s: must run as root (running as uid 1000)`)
	assert.NotContains(t, stderr.String(), "current-system unreadable")
}
