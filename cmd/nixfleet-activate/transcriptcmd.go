package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/nixfleet/nixfleet-activate/transcript"
)

const transcriptUsage = `usage: nixfleet-activate transcript replay FILE     (run the recorded pipeline call against FILE: exit 0 when it replays green)
       nixfleet-activate transcript scenario FILE   (print the equivalent simulated-host scenario; gaps on stderr)`

// runTranscript is `nixfleet-activate transcript replay|scenario FILE`
// (issue 15): a transcript written by --record, replayed against this
// binary's pipeline or converted into a scenario. Exit 0 on success, 1 on
// a divergence or an unreadable file, 2 on usage errors.
func runTranscript(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if slices.ContainsFunc(args, isHelpFlag) {
		fmt.Fprintln(stdout, transcriptUsage)
		return ExitSuccess
	}
	if len(args) != 2 || (args[0] != "replay" && args[0] != "scenario") {
		fmt.Fprintln(stderr, transcriptUsage)
		return ExitUsage
	}
	data, err := os.ReadFile(args[1])
	if err != nil {
		fmt.Fprintf(stderr, "nixfleet-activate: %v\n", err)
		return ExitInternal
	}
	t, err := transcript.Parse(data)
	if err != nil {
		fmt.Fprintf(stderr, "nixfleet-activate: %v\n", err)
		return ExitInternal
	}
	if args[0] == "scenario" {
		sc := transcript.ToScenario(t)
		fmt.Fprint(stdout, sc.Script)
		for _, g := range sc.Gaps {
			fmt.Fprintf(stderr, "not expressed: %s\n", g)
		}
		return ExitSuccess
	}
	res, err := transcript.Replay(ctx, t, nil)
	if err != nil {
		fmt.Fprintf(stderr, "nixfleet-activate: %v\n", err)
		return ExitInternal
	}
	fmt.Fprintf(stdout, "replayed %d of %d steps; outcome %s\n", res.Steps, res.Total, res.OutcomeJSON)
	return ExitSuccess
}
