package testscripts

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nixfleet/nixfleet-activate/transcript"
)

// transcriptCorpusDir holds the real transcripts (relative to this
// package's directory, where tests run).
var transcriptCorpusDir, _ = filepath.Abs("../transcript/testdata")

// replayCommand is `replay FILE` (issue 15): the pipeline runs against a
// transcript recorded on a real host (--record), not the simulated host.
func replayCommand() command {
	return command{name: "replay", prints: true, usage: "replay FILE|corpus:NAME",
		summary: "corpus:NAME is transcript/testdata/NAME.txtar, the real transcripts kept as regression scenarios; runs the pipeline call a transcript recorded on a real host (nixfleet-activate --record FILE) against that transcript: commands, link reads, the lock probe and time are answered from it in order; any divergence (a command it does not have, in another order, with other arguments, or steps left over) or another outcome than the recorded one fails with a diff; prints and keeps the outcome like activate (the simulated host is not used)",
		run:     runReplay}
}

func runReplay(s *script, neg bool, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("want replay FILE")
	}
	file := s.ts.MkAbs(args[0])
	if name, ok := strings.CutPrefix(args[0], "corpus:"); ok {
		file = filepath.Join(transcriptCorpusDir, name+".txtar")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	t, err := transcript.Parse(data)
	if err != nil {
		return err
	}
	res, err := transcript.Replay(context.Background(), t, nil)
	if err != nil {
		return err
	}
	if res.Outcome == nil {
		_, err := fmt.Fprintln(s.ts.Stdout(), "no unfinished run")
		return err
	}
	s.w.last = &lastRun{}
	return s.keep(*res.Outcome)
}
