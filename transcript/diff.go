package transcript

import (
	"fmt"
	"strings"

	"github.com/nixfleet/nixfleet-activate/proc"
)

// Divergence is the first point where a replayed run left its transcript:
// a call the transcript does not have there (another kind, path,
// argument or command line), a call past its end, or a run that ended
// before it. Error renders a readable diff with the steps around it.
type Divergence struct {
	// Index is the 0-based index of the step that did not match (or was
	// never asked for).
	Index int
	// Got is what the run asked; zero when Ended.
	Got call
	// Reason says how they differ.
	Reason string
	// Ended: the run ended while steps were left.
	Ended bool
	steps []Step
}

// divergenceContext is how many steps before and after the divergence the
// diff shows.
const divergenceContext = 3

func (d *Divergence) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "replay diverged at step %d of %d: %s\n", d.Index+1, len(d.steps), d.Reason)
	lo, hi := max(0, d.Index-divergenceContext), min(len(d.steps), d.Index+divergenceContext+1)
	runs := runsBefore(d.steps, lo)
	for i := lo; i < hi; i++ {
		mark := "  "
		if i == d.Index {
			mark = "- "
		}
		fmt.Fprintf(&b, "%s%s\n", mark, formatStep(i+1, d.steps[i], &runs))
		if i == d.Index && !d.Ended {
			fmt.Fprintf(&b, "+ %s\n", d.Got)
		}
	}
	if d.Index >= len(d.steps) && !d.Ended {
		fmt.Fprintf(&b, "+ %s\n", d.Got)
	}
	if d.Index < len(d.steps) && !d.Ended {
		b.WriteString(argvDiff(d.steps[d.Index], d.Got))
	}
	b.WriteString("(- transcript, + this run)")
	return b.String()
}

func runsBefore(steps []Step, i int) int {
	n := 0
	for _, s := range steps[:i] {
		if s.Kind == KindRun {
			n++
		}
	}
	return n
}

// String renders a call like a steps line without its number and time.
func (c call) String() string {
	s := string(c.kind)
	if c.path != "" {
		s += " path=" + quoteValue(c.path)
	}
	if c.arg != "" {
		s += " arg=" + quoteValue(c.arg)
	}
	if c.kind == KindRun {
		s += " :: " + proc.Cmd{Argv: c.argv}.String()
	}
	return s
}

// argvDiff lists the arguments that differ when both are commands.
func argvDiff(s Step, c call) string {
	if s.Kind != KindRun || c.kind != KindRun || s.Cmd == nil {
		return ""
	}
	var b strings.Builder
	for i := range max(len(s.Cmd.Argv), len(c.argv)) {
		want, got := at(s.Cmd.Argv, i), at(c.argv, i)
		if want != got {
			fmt.Fprintf(&b, "  argv[%d]: - %s\n  argv[%d]: + %s\n", i, want, i, got)
		}
	}
	return b.String()
}

func at(ss []string, i int) string {
	if i < len(ss) {
		return quoteValue(ss[i])
	}
	return "(none)"
}
