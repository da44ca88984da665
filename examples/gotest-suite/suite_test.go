// Package gotestsuite shows how a fleet's own Go module runs its scenario
// suite with `go test`: it imports the scenario language and runs the
// example fleet's suite, one subtest per scenario.
package gotestsuite

import (
	"testing"

	"github.com/nixfleet/nixfleet-activate/testscripts"
)

// TestFleetSuite runs every scenario of ../fleet-suite.
func TestFleetSuite(t *testing.T) {
	testscripts.Run(t, "../fleet-suite", testscripts.Options{})
}
