package main

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/nixfleet/nixfleet-activate/testscripts"
)

// TestScenarioAgentFlagsAreTheBinarys keeps the scenario language's
// `agent` flags in step with the binary's: each one a scenario accepts is a
// flag of nixfleet-activate with the same name, so a fleet's unit's command
// line carries over.
func TestScenarioAgentFlagsAreTheBinarys(t *testing.T) {
	fs := newFlagSet(&config{meta: map[string]string{}}, io.Discard)
	for _, name := range testscripts.AgentFlags {
		assert.NotNil(t, fs.Lookup(name), "agent --%s is no flag of the binary", name)
	}
}
