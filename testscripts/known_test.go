package testscripts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/explore"
)

// Known issues have one list, explore.Known: each entry names the scenario
// in testdata/ that pins what the pipeline does in that case today (the
// scenario runs with the others in TestScripts). A fix that changes the
// behaviour fails that scenario and the explorer's repro test together:
// then update the scenario and drop the entry.

// TestKnownIssuesHaveTheirScenario checks that every known issue names a
// scenario that exists and says, in its opening comment, which entry it
// pins (by its repro).
func TestKnownIssuesHaveTheirScenario(t *testing.T) {
	require.NotEmpty(t, explore.Known)
	for _, k := range explore.Known {
		t.Run(k.Scenario, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", k.Scenario+".txtar"))
			require.NoError(t, err, "known issue %s names a scenario that does not exist", k.Repro)
			first, _, _ := strings.Cut(string(data), "\n")
			assert.Contains(t, first, k.Repro, "the scenario's opening comment names the known issue's repro")
		})
	}
}
