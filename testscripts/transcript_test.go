package testscripts

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/transcript"
)

// transcriptDirEnv names a directory of transcripts the container suites
// wrote (cmd/nixfleet-activate: NIXFLEET_TRANSCRIPT_DIR); when set,
// TestTranscriptScenarios checks them too.
const transcriptDirEnv = "NIXFLEET_TRANSCRIPT_DIR"

// transcriptFiles is the corpus and, when set, $NIXFLEET_TRANSCRIPT_DIR.
func transcriptFiles(t *testing.T) []string {
	files, err := filepath.Glob("../transcript/testdata/*.txtar")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	if dir := os.Getenv(transcriptDirEnv); dir != "" {
		more, err := filepath.Glob(filepath.Join(dir, "*.txtar"))
		require.NoError(t, err)
		files = append(files, more...)
	}
	return files
}

// TestTranscriptScenarios (issue 15): each transcript recorded on a real
// host replays green through the scenario command `replay`, and the
// scenario it converts to (nixfleet-activate transcript scenario) reaches
// the same outcome kind and phase on the simulated host, so the binary's
// exit status (a function of the kind) is the same too. Not compared: the
// outcome's other fields (timings, generation numbers, texts), and a
// scenario whose converter names a gap that may change the outcome (the
// gap is logged and the transcript is counted as not compared).
func TestTranscriptScenarios(t *testing.T) {
	for _, f := range transcriptFiles(t) {
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
			check, err := CheckConverted(tr)
			require.NoError(t, err)
			corpus := !filepath.IsAbs(f)
			if !check.Compared {
				assert.False(t, corpus, "a corpus transcript's scenario must be compared; gaps: %q", check.Scenario.Blocking())
				t.Logf("converted scenario not compared: it cannot express %q", check.Scenario.Blocking())
				return
			}
			assert.False(t, check.Result.Failed, "converted scenario (gaps: %q):\n%s\n%s", check.Scenario.Gaps, check.Scenario.Script, check.Result.Log)
		})
	}
}
