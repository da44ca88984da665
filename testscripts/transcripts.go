package testscripts

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/nixfleet/nixfleet-activate/transcript"
)

// ConvertedCheck is what CheckConverted found for one transcript.
type ConvertedCheck struct {
	// Scenario is the converted scenario (its script and gaps).
	Scenario transcript.Scenario
	// Compared: the scenario ran (no gap may change the outcome); Result
	// is then its run, whose last `outcome` line asserts the recorded
	// outcome's kind and phase (the binary's exit status follows from the
	// kind, cmd/nixfleet-activate exitCode).
	Compared bool
	Result   Result
}

// CheckConverted converts a transcript recorded on a real host into a
// simulated-host scenario (transcript.ToScenario) and, unless a gap may
// change the outcome (transcript.Scenario.Blocking), runs it on a fresh
// simulated host. The scenario fails when the simulated outcome's kind or
// phase differs from the recorded one. Errors: the scenario file could not
// be written or testscript could not start.
func CheckConverted(t *transcript.Transcript) (ConvertedCheck, error) {
	c := ConvertedCheck{Scenario: transcript.ToScenario(t)}
	if len(c.Scenario.Blocking()) > 0 {
		return c, nil
	}
	dir, err := os.MkdirTemp("", "nixfleet-converted-")
	if err != nil {
		return c, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "converted.txtar")
	if err := os.WriteFile(file, []byte(c.Scenario.Script), 0o644); err != nil {
		return c, err
	}
	results, err := RunFiles([]string{file}, Options{})
	if err != nil {
		return c, err
	}
	if len(results) != 1 {
		return c, errors.New("converted scenario: no result")
	}
	c.Compared, c.Result = true, results[0]
	return c, nil
}
