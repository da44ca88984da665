package realtest

import (
	"os"
	"testing"
)

// Environment variables that make a missing real tool a test failure instead
// of a skip.
const (
	// EnvCI is set to "true" by CI systems.
	EnvCI = "CI"
	// EnvRequireReal, set to "1", demands the real suite outside CI too.
	EnvRequireReal = "NIXFLEET_REQUIRE_REAL"
)

// Strict reports whether the real-tool suite must run rather than skip:
// CI=true or NIXFLEET_REQUIRE_REAL=1.
func Strict() bool {
	return os.Getenv(EnvCI) == "true" || os.Getenv(EnvRequireReal) == "1"
}

// unavailable ends t because a real tool cannot be used: t.Fatal under Strict,
// t.Skip otherwise. It does not return.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if Strict() {
		t.Fatalf("real tools required ("+EnvCI+"=true or "+EnvRequireReal+"=1) but unavailable: "+format, args...)
	}
	t.Skipf("real tools unavailable: "+format, args...)
}
