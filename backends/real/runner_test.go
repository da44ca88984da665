package real

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/nixfleet/nixfleet-activate/proc"
)

// step is one expected command and the canned answer for it.
type step struct {
	argv []string
	res  proc.Result
	err  error
	// hang makes the command run until its context ends.
	hang bool
}

// scriptedRunner checks each command against the next expected step,
// records every command it is given, and answers with the step's result.
type scriptedRunner struct {
	t     *testing.T
	steps []step
	calls []proc.Cmd
}

func (r *scriptedRunner) Run(ctx context.Context, cmd proc.Cmd) (proc.Result, error) {
	r.calls = append(r.calls, cmd)
	if len(r.steps) == 0 {
		r.t.Errorf("unexpected command %q", cmd.Argv)
		return proc.Result{}, errors.New("unexpected command")
	}
	s := r.steps[0]
	r.steps = r.steps[1:]
	assert.Equal(r.t, s.argv, cmd.Argv, "command %d", len(r.calls))
	if s.hang {
		<-ctx.Done()
		return proc.Result{ExitCode: 137}, ctx.Err()
	}
	return s.res, s.err
}

// argvs lists the argv of every recorded call.
func (r *scriptedRunner) argvs() [][]string {
	out := make([][]string, len(r.calls))
	for i, c := range r.calls {
		out[i] = c.Argv
	}
	return out
}

// newScripted returns a Backend over a runner that expects steps in order
// and fails the test if any step is left unused.
func newScripted(t *testing.T, cfg Config, steps ...step) (*Backend, *scriptedRunner) {
	t.Helper()
	r := &scriptedRunner{t: t, steps: steps}
	t.Cleanup(func() { assert.Empty(t, r.steps, "commands expected but not run") })
	cfg.Runner = r
	return New(cfg), r
}

func ok(stdout string) proc.Result { return proc.Result{Stdout: []byte(stdout)} }

func fail(code int, stderr string) proc.Result {
	return proc.Result{ExitCode: code, Stderr: []byte(stderr)}
}
