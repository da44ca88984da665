package real

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/proc"
)

const testInvocation = "0123456789abcdef0123456789abcdef"

// TestUnitOutputReadsTheInvocationsOwnLines: the invocation ID first, a
// journal sync, then journalctl matched on that invocation (systemd 252;
// docs/REAL-TOOLS.md: -u also prints systemd's lines and earlier runs').
func TestUnitOutputReadsTheInvocationsOwnLines(t *testing.T) {
	b, _ := newScripted(t, Config{},
		step{argv: []string{"systemctl", "show", "-P", "InvocationID", "--", "c.service"},
			res: proc.Result{Stdout: []byte(testInvocation + "\n")}},
		step{argv: []string{"journalctl", "--sync"}, res: proc.Result{ExitCode: 1, Stderr: []byte("Access denied")}},
		step{argv: []string{"journalctl", "_SYSTEMD_INVOCATION_ID=" + testInvocation, "-n", "20", "--no-pager", "-o", "cat"},
			res: proc.Result{Stdout: []byte("up\n")}})
	out, err := b.UnitOutput(context.Background(), "c", 20)
	require.NoError(t, err, "a failed sync still reads")
	assert.Equal(t, "up\n", out)
}

// TestUnitOutputRefusesAMissingInvocation: a unit not loaded prints an
// empty InvocationID; nothing is read for it.
func TestUnitOutputRefusesAMissingInvocation(t *testing.T) {
	b, _ := newScripted(t, Config{},
		step{argv: []string{"systemctl", "show", "-P", "InvocationID", "--", "c.service"}, res: proc.Result{Stdout: []byte("\n")}})
	_, err := b.UnitOutput(context.Background(), "c", 20)
	assert.ErrorContains(t, err, "no invocation ID")
}

// TestSystemStateReadsTheWordWhateverTheExit: is-system-running exits 1
// for every state but running (systemd 252); the word is the answer.
func TestSystemStateReadsTheWordWhateverTheExit(t *testing.T) {
	b, _ := newScripted(t, Config{},
		step{argv: []string{"systemctl", "is-system-running"}, res: proc.Result{ExitCode: 1, Stdout: []byte("degraded\n")}})
	state, err := b.SystemState(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "degraded", state)
}

// TestRunCheckRefusesUnsafeCommandLines: systemd-run expands "$"; a check
// path must be absolute and the unit name valid; nothing runs otherwise.
func TestRunCheckRefusesUnsafeCommandLines(t *testing.T) {
	b, _ := newScripted(t, Config{})
	for _, c := range []struct {
		unit string
		argv []string
	}{{"c.service", []string{"/x"}}, {"c", []string{"x"}}, {"c", []string{"/x/$HOME"}}, {"c", nil}} {
		assert.ErrorIs(t, b.RunCheck(context.Background(), c.unit, c.argv), ErrBadFireRequest, "%q %q", c.unit, c.argv)
	}
}
