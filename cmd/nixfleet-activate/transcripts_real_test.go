package main

// Every pipeline call of the container suites is recorded (--record) into
// the test's directory; when the host's test ends, each transcript is
// replayed against the current code (transcript.Replay) and must replay
// green. With NIXFLEET_TRANSCRIPT_DIR set, the transcripts are also copied
// there (CI keeps them; a new corpus entry is picked from them).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/nixfleet/nixfleet-activate/testscripts"
	"github.com/nixfleet/nixfleet-activate/transcript"
)

// TranscriptDirEnv names the directory the container suites copy their
// transcripts to ("" keeps them in the test's temp dir only).
const TranscriptDirEnv = "NIXFLEET_TRANSCRIPT_DIR"

// recordedCommands are the subcommands whose pipeline call --record keeps.
var recordedCommands = []string{"activate", "rollback", "recover"}

// recordings numbers the transcripts of one container test: --record
// FILE for each recorded run, all replayed when the test ends.
type recordings struct {
	// transcripts is the directory (none: nothing is recorded); recorded
	// counts the files, testName names them.
	transcripts, testName string
	recorded              int
}

// recordArgs returns "--record FILE" for a run of a recorded subcommand,
// a fresh numbered file under the test directory's transcripts/.
func (r *recordings) recordArgs(args []string) []string {
	// GOTCHA: a dry run is not recorded (the binary refuses --record with
	// --dry-run): its pipeline call runs against the planning host
	// (backends/plan), whose answers are no real host's.
	if r.transcripts == "" || slices.Contains(args, "--dry-run") ||
		!slices.ContainsFunc(args, func(a string) bool { return slices.Contains(recordedCommands, a) }) {
		return nil
	}
	r.recorded++
	name := fmt.Sprintf("%03d-%s.txtar", r.recorded, fileSafe(r.testName))
	return []string{"--record", filepath.Join(r.transcripts, name)}
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func fileSafe(s string) string {
	s = unsafeChars.ReplaceAllString(s, "-")
	return s[:min(len(s), 80)]
}

// startRecording makes dir/transcripts and replays what lands there when t
// ends.
func (r *recordings) startRecording(t testing.TB, dir string) {
	r.transcripts, r.testName = filepath.Join(dir, "transcripts"), t.Name()
	if err := os.MkdirAll(r.transcripts, 0o777); err != nil {
		t.Fatalf("transcripts dir: %v", err)
	}
	dir = r.transcripts // stopRecording may clear the field before the cleanup
	t.Cleanup(func() { replayRecorded(t, dir) })
}

// stopRecording makes the runs that follow unrecorded (recordArgs returns
// nothing); what was recorded so far is still replayed when the test ends.
func (r *recordings) stopRecording() { r.transcripts = "" }

// replayRecorded replays every transcript in dir and copies it to
// $NIXFLEET_TRANSCRIPT_DIR when set.
func replayRecorded(t testing.TB, dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.txtar"))
	compared := 0
	keep := os.Getenv(TranscriptDirEnv)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if keep != "" {
			_ = os.MkdirAll(keep, 0o755)
			_ = os.WriteFile(filepath.Join(keep, filepath.Base(f)), data, 0o644)
		}
		if err := replayOne(data); err != nil {
			t.Errorf("transcript %s does not replay:\n%v", filepath.Base(f), err)
		}
		compared += checkConverted(t, filepath.Base(f), data)
	}
	t.Logf("%d transcripts recorded and replayed; %d converted scenarios gave the same outcome on the simulated host", len(files), compared)
}

// checkConverted runs the transcript's converted scenario on the
// simulated host (testscripts.CheckConverted): its outcome's kind and
// phase must be the recorded ones. It returns 1 when it was compared, 0
// when a gap the converter names may change the outcome (logged).
func checkConverted(t testing.TB, name string, data []byte) int {
	tr, err := transcript.Parse(data)
	if err != nil {
		return 0 // replayOne reported it
	}
	check, err := testscripts.CheckConverted(tr)
	if err != nil {
		t.Errorf("transcript %s: converted scenario: %v", name, err)
		return 0
	}
	if !check.Compared {
		t.Logf("transcript %s: converted scenario not compared: it cannot express %q", name, check.Scenario.Blocking())
		return 0
	}
	if check.Result.Failed {
		t.Errorf("transcript %s: the converted scenario's outcome differs on the simulated host:\n%s\n%s", name, check.Scenario.Script, check.Result.Log)
		return 0
	}
	return 1
}

func replayOne(data []byte) error {
	tr, err := transcript.Parse(data)
	if err != nil {
		return err
	}
	res, err := transcript.Replay(context.Background(), tr, nil)
	if err != nil {
		return err
	}
	if tr.Header.Exit != nil && res.Outcome != nil && exitCode(res.Outcome.Kind) != *tr.Header.Exit {
		return fmt.Errorf("exit %d recorded, %d replayed", *tr.Header.Exit, exitCode(res.Outcome.Kind))
	}
	return nil
}
