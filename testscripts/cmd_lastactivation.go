package testscripts

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// lastActivationCommand checks the last-activation record that rollback
// undoes.
func lastActivationCommand() command {
	return command{name: "last-activation", usage: "last-activation none | [closure=ALIAS] [previous=ALIAS] [previous-generation=N] [generation=N] [outcome=KIND]",
		summary: "checks the last-activation record in " + pipeline.DefaultStateDir + " (" + pipeline.LastActivationFile + "): none, or its closure, the current-system before it (previous), the profile generation it started from and the one it left, and its outcome",
		run:     runLastActivation}
}

func runLastActivation(s *script, _ bool, args []string) error {
	p, err := argSpec{"closure=", "previous=", "previous-generation=", "generation=", "outcome="}.parse(args)
	if err != nil {
		return err
	}
	la, err := s.w.state.LastActivation().Load()
	if err != nil {
		return err
	}
	none := len(p.pos) == 1 && p.pos[0] == "none"
	switch {
	case len(p.pos) > 1 || (len(p.pos) == 1 && !none):
		return usagef("want none or FIELD=VALUE...")
	case none && la != nil:
		return fmt.Errorf("a last-activation record is there: %+v", *la)
	case none:
		return nil
	case la == nil:
		return fmt.Errorf("no last-activation record")
	}
	got := map[string]string{"closure": s.w.alias(la.Closure), "previous": s.w.alias(la.Previous),
		"previous-generation": strconv.Itoa(la.PreviousGeneration), "generation": strconv.Itoa(la.Generation),
		"outcome": string(la.Outcome)}
	var problems []string
	for _, k := range []string{"closure", "previous", "previous-generation", "generation", "outcome"} {
		if want, ok := p.opts[k]; ok && got[k] != want {
			problems = append(problems, fmt.Sprintf("%s=%s, want %s", k, got[k], want))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("last-activation: %s", strings.Join(problems, ", "))
	}
	return nil
}
