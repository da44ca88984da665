package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// confirmReport is confirm's stdout: {"confirmed":bool,"closure":...,"reason":...}.
type confirmReport struct {
	Confirmed bool   `json:"confirmed"`
	Closure   string `json:"closure,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// confirm writes the confirmation of the in-flight activation that waits
// with --confirm-within (issue 18). It neither recovers nor takes the agent
// lock: the waiting run holds it. Exit 0 when written, ExitSkipped when no
// activation is in flight (too early, or too late: nothing changed),
// ExitInternal on a state-directory error.
func (env *environment) confirm(stdout io.Writer) int {
	closure, err := pipeline.Confirm(env.deps)
	rep := confirmReport{Confirmed: err == nil, Closure: closure}
	code := ExitSuccess
	switch {
	case errors.Is(err, pipeline.ErrNothingToConfirm):
		rep.Reason, code = err.Error(), ExitSkipped
	case err != nil:
		rep.Reason, code = err.Error(), ExitInternal
		fmt.Fprintf(env.stderr, "nixfleet-activate: confirm: %v\n", err)
	}
	if perr := printJSON(stdout, rep); perr != nil {
		return ExitOutputFailed
	}
	return code
}
