package testscripts

import (
	"strconv"
)

// generationDeletedCommand deletes a profile generation, as a garbage
// collection by someone else would.
func generationDeletedCommand() command {
	return command{name: "generation-deleted", usage: "generation-deleted N",
		summary: "deletes the system profile's generation N (not the current one), as `nix-env --delete-generations N` or `nix-collect-garbage -d` would; schedulable, so a generation can vanish while the agent runs",
		effect:  generationDeletedEffect}
}

func generationDeletedEffect(s *script, args []string) (func() error, error) {
	if len(args) != 1 {
		return nil, usagef("want N")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		return nil, usagef("%q: want a generation number", args[0])
	}
	h := s.w.host()
	return func() error { return h.DeleteGeneration(n) }, nil
}
