package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// writeStatusTable renders status for a person: one aligned line per fact,
// the generations newest first (at most statusGenerations), the units, the
// lock with its holders, an unfinished run and the last activation.
func writeStatusTable(w io.Writer, st hostStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, orDash(v)) }
	row("current-system", st.CurrentSystem)
	row("booted-system", st.BootedSystem)
	row("profile", st.Profile.Path+" -> "+orDash(st.Profile.Closure))
	gens := slices.Clone(st.Profile.Generations)
	slices.Reverse(gens)
	for i, g := range gens {
		if i == statusGenerations {
			row("", fmt.Sprintf("(%d older)", len(gens)-i))
			break
		}
		mark := ""
		if g.Current {
			mark = "  (current)"
		}
		row(label(i == 0, "generations"), fmt.Sprintf("%4d  %s%s", g.Number, g.Created, mark))
	}
	row("switch lock", st.Lock)
	if d := st.LockDiagnosis; d != nil {
		for _, h := range d.Holders {
			held := "for an unknown time"
			if h.HeldForS != nil {
				held = "for " + (time.Duration(*h.HeldForS) * time.Second).String()
			}
			row("  holder", fmt.Sprintf("pid %d (%s) %s: %s", h.PID, h.Kind, held, h.Hint))
		}
	}
	for _, name := range sortedKeys(st.Units) {
		row("unit "+name, unitPhrase(st.Units[name]))
	}
	row("unfinished run", inFlightPhrase(st.InFlight))
	if la := st.LastActivation; la != nil {
		row("last activation", fmt.Sprintf("%s %s at %s, generation %d (from %d)", la.Outcome, la.Closure,
			la.At.Format(time.RFC3339), la.Generation, la.PreviousGeneration))
	}
	for _, e := range st.Errors {
		row("error", e)
	}
	return tw.Flush()
}

// statusGenerations is how many generations the table shows.
const statusGenerations = 5

func label(first bool, s string) string {
	if first {
		return s
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func unitPhrase(u pipeline.SwitchReport) string {
	parts := []string{string(u.State)}
	if u.Result != "" {
		parts = append(parts, "result="+u.Result)
	}
	if u.ExitCode != nil && u.ExitCode.Known {
		parts = append(parts, "exit="+strconv.Itoa(u.ExitCode.Code))
	}
	if u.Signal != nil {
		parts = append(parts, "signal="+strconv.Itoa(*u.Signal))
	}
	return strings.Join(parts, " ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// inFlightPhrase is the table's line on the in-flight record: none, a run
// awaiting its confirmation (issue 18: still running, it holds the agent
// lock until `confirm` or its deadline), or a run that recover resolves.
func inFlightPhrase(r *pipeline.Record) string {
	switch {
	case r == nil:
		return "none"
	case r.Step == pipeline.StepAwaitingConfirmation:
		return fmt.Sprintf("%s %s awaits confirmation until %s (nixfleet-activate confirm)",
			r.Op, r.Closure, r.ConfirmDeadline.Format(time.RFC3339))
	}
	return fmt.Sprintf("%s %s at step %s (nixfleet-activate recover resolves it)", r.Op, r.Closure, r.Step)
}
