package testscripts

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/nixfleet/nixfleet-activate/transcript"
)

// replayCommand is `replay FILE` (issue 15): the pipeline runs against a
// transcript recorded on a real host (--record), not the simulated host.
func replayCommand() command {
	return command{name: "replay", prints: true, usage: "replay FILE|corpus:NAME",
		summary: "corpus:NAME is transcript/testdata/NAME.txtar, the real transcripts kept as regression scenarios; runs the pipeline call a transcript recorded on a real host (nixfleet-activate --record FILE) against that transcript: commands, link reads, the lock probe and time are answered from it in order; any divergence (a command it does not have, in another order, with other arguments, or steps left over) or another outcome than the recorded one fails with a diff; prints and keeps the outcome like activate (the simulated host is not used)",
		run:     runReplay}
}

func runReplay(s *script, neg bool, args []string) error {
	if len(args) != 1 {
		return usagef("want replay FILE")
	}
	data, err := readTranscript(s, args[0])
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

// readTranscript reads FILE relative to the script's work directory, or
// corpus:NAME from the transcript package's embedded corpus.
func readTranscript(s *script, arg string) ([]byte, error) {
	if name, ok := strings.CutPrefix(arg, "corpus:"); ok {
		return transcript.Corpus(name)
	}
	return os.ReadFile(s.ts.MkAbs(arg))
}
