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

	"github.com/nixfleet/nixfleet-activate/transcript"
)

// TranscriptDirEnv names the directory the container suites copy their
// transcripts to ("" keeps them in the test's temp dir only).
const TranscriptDirEnv = "NIXFLEET_TRANSCRIPT_DIR"

// recordedCommands are the subcommands whose pipeline call --record keeps.
var recordedCommands = []string{"activate", "rollback", "recover"}

// recordArgs returns "--record FILE" for a run of a recorded subcommand,
// a fresh numbered file under the test directory's transcripts/.
func (h *host) recordArgs(args []string) []string {
	if h.transcripts == "" || !slices.ContainsFunc(args, func(a string) bool { return slices.Contains(recordedCommands, a) }) {
		return nil
	}
	h.recorded++
	name := fmt.Sprintf("%03d-%s.txtar", h.recorded, fileSafe(h.testName))
	return []string{"--record", filepath.Join(h.transcripts, name)}
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func fileSafe(s string) string {
	s = unsafeChars.ReplaceAllString(s, "-")
	return s[:min(len(s), 80)]
}

// startRecording makes dir/transcripts and replays what lands there when t
// ends.
func (h *host) startRecording(t testing.TB, dir string) {
	h.transcripts, h.testName = filepath.Join(dir, "transcripts"), t.Name()
	if err := os.MkdirAll(h.transcripts, 0o777); err != nil {
		t.Fatalf("transcripts dir: %v", err)
	}
	t.Cleanup(func() { replayRecorded(t, h.transcripts) })
}

// replayRecorded replays every transcript in dir and copies it to
// $NIXFLEET_TRANSCRIPT_DIR when set.
func replayRecorded(t testing.TB, dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.txtar"))
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
	}
	t.Logf("%d transcripts recorded and replayed", len(files))
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
