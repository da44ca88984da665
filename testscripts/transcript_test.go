package testscripts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/transcript"
)

// transcriptCorpus is the real transcripts kept as regression scenarios.
func transcriptCorpus(t *testing.T) []string {
	files, err := filepath.Glob("../transcript/testdata/*.txtar")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

// TestTranscriptScenarios (issue 15): each transcript recorded on a real
// host replays green through the scenario command `replay`, and the
// scenario it converts to (nixfleet-activate transcript scenario) reaches
// the same outcome kind and phase on the simulated host.
func TestTranscriptScenarios(t *testing.T) {
	for _, f := range transcriptCorpus(t) {
		abs, err := filepath.Abs(f)
		require.NoError(t, err)
		data, err := os.ReadFile(abs)
		require.NoError(t, err)
		tr, err := transcript.Parse(data)
		require.NoError(t, err)
		out, err := tr.DecodeOutcome()
		require.NoError(t, err)
		t.Run(filepath.Base(f), func(t *testing.T) {
			script := "# replays a real transcript\nreplay " + abs + "\n"
			if out != nil {
				script += "outcome " + string(out.Kind) + "\n"
			}
			failed, log := runScript(t, script)
			assert.False(t, failed, "replay:\n%s", log)
			sc := transcript.ToScenario(tr)
			if gaps := blockingGaps(sc.Gaps); len(gaps) > 0 {
				t.Logf("converted scenario not compared: the language cannot express %q", gaps)
				return
			}
			failed, log = runScript(t, sc.Script)
			assert.False(t, failed, "converted scenario (gaps: %q):\n%s\n%s", sc.Gaps, sc.Script, log)
		})
	}
}

// blockingGaps are the gaps that may change the outcome (the switch's
// duration never does when its flip and exit are kept).
func blockingGaps(gaps []string) []string {
	var out []string
	for _, g := range gaps {
		if !strings.HasPrefix(g, "the switch's duration") {
			out = append(out, g)
		}
	}
	return out
}
