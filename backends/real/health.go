package real

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// DefaultJournalctl is the journalctl program UnitOutput runs.
const DefaultJournalctl = "journalctl"

var _ pipeline.HealthBackend = (*Backend)(nil)

// CheckRunCmd is the systemd-run command line of a health check (systemd
// 252 syntax), as RunCmd's for a switch:
//
//	systemd-run --unit=UNIT --description=TEXT --remain-after-exit
//	  --service-type=exec --no-ask-password -- ARGV...
//
// --remain-after-exit keeps ExecMainStatus readable after the check ends.
func (b *Backend) CheckRunCmd(unit string, argv []string) proc.Cmd {
	return proc.Cmd{Argv: append([]string{b.cfg.SystemdRun,
		"--unit=" + unit,
		"--description=nixfleet-activate: health check " + strings.Join(argv, " "),
		"--remain-after-exit",
		"--service-type=exec",
		"--no-ask-password",
		"--",
	}, argv...)}
}

// JournalTailCmd is `journalctl _SYSTEMD_INVOCATION_ID=ID -n LINES
// --no-pager -o cat` (systemd 252): the last LINES messages the processes of
// one invocation of a unit wrote, without metadata.
//
// GOTCHA: `journalctl -u UNIT` also prints systemd's own messages about the
// unit ("Starting ...", "Main process exited, ...") and every earlier
// invocation's output (observed with systemd 252); `--invocation` exists
// only from systemd 257.
func (b *Backend) JournalTailCmd(invocationID string, lines int) proc.Cmd {
	return proc.Cmd{Argv: []string{DefaultJournalctl, "_SYSTEMD_INVOCATION_ID=" + invocationID,
		"-n", strconv.Itoa(lines), "--no-pager", "-o", "cat"}}
}

// JournalSyncCmd is `journalctl --sync` (systemd 252): it returns once
// journald has stored every message written before the call.
func (b *Backend) JournalSyncCmd() proc.Cmd {
	return proc.Cmd{Argv: []string{DefaultJournalctl, "--sync"}}
}

// InvocationIDCmd is `systemctl show -P InvocationID -- UNIT.service`
// (systemd 252): the 32 hex digits of the unit's current invocation, empty
// for a unit not loaded.
func (b *Backend) InvocationIDCmd(unit string) proc.Cmd {
	return proc.Cmd{Argv: []string{b.cfg.Systemctl, "show", "-P", "InvocationID", "--", serviceName(unit)}}
}

// SystemStateCmd is `systemctl is-system-running` (systemd 252).
func (b *Backend) SystemStateCmd() proc.Cmd {
	return proc.Cmd{Argv: []string{b.cfg.Systemctl, "is-system-running"}}
}

// RunCheck starts argv in the transient unit (CheckRunCmd) and returns once
// systemd has executed it. The unit name must be free (ReleaseUnit first).
// Errors: ErrBadFireRequest (bad unit name or program path),
// *pipeline.CommandError, or a plain error on timeout.
func (b *Backend) RunCheck(ctx context.Context, unit string, argv []string) error {
	switch {
	case !onlyUnitNameChars(unit) || strings.HasSuffix(unit, ".service"):
		return fmt.Errorf("%w: unit name %q", ErrBadFireRequest, unit)
	case len(argv) == 0 || !strings.HasPrefix(argv[0], "/") || strings.ContainsAny(strings.Join(argv, " "), "$\t\n"):
		// GOTCHA: systemd-run expands "$" in the command (systemd 252).
		return fmt.Errorf("%w: check command %q", ErrBadFireRequest, argv)
	}
	_, err := b.runChecked(ctx, b.CheckRunCmd(unit, argv))
	if err != nil && startJobFailed(err) && b.unitRanItsProgram(ctx, unit) {
		return nil // a check failing within milliseconds fails the start job; it did run (see Fire)
	}
	return err
}

// StopUnit runs `systemctl stop -- UNIT.service`; a unit not loaded is not
// an error.
func (b *Backend) StopUnit(ctx context.Context, unit string) error {
	return b.runIgnoringNotLoaded(ctx, b.StopCmd(unit))
}

// UnitOutput reads the unit's invocation ID (InvocationIDCmd), then that
// invocation's output (JournalTailCmd). Errors: no invocation ID (the unit
// is not loaded), *pipeline.CommandError or plain.
func (b *Backend) UnitOutput(ctx context.Context, unit string, lines int) (string, error) {
	res, err := b.runChecked(ctx, b.InvocationIDCmd(unit))
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(string(res.Stdout))
	if !isInvocationID(id) {
		return "", fmt.Errorf("%s has no invocation ID (%q)", serviceName(unit), id)
	}
	// GOTCHA: journald stores a stream's lines asynchronously: right after
	// the unit's exit its last lines may be missing (observed under load,
	// systemd 252); --sync waits for them. A failed sync still reads.
	_, _ = b.runChecked(ctx, b.JournalSyncCmd())
	res, err = b.runChecked(ctx, b.JournalTailCmd(id, lines))
	if err != nil {
		return "", err
	}
	return string(res.Stdout), nil
}

// isInvocationID reports whether id is a systemd invocation ID: a 128-bit
// ID in 32 lowercase hex digits.
func isInvocationID(id string) bool {
	return len(id) == 32 && strings.Trim(id, "0123456789abcdef") == ""
}

// SystemState runs `systemctl is-system-running` and returns its word. It
// exits non-zero for every state but "running" (systemd 252), so a word
// printed with a non-zero exit is an answer, not an error.
func (b *Backend) SystemState(ctx context.Context) (string, error) {
	res, err := b.run(ctx, b.SystemStateCmd(), b.cfg.CommandTimeout)
	word := strings.TrimSpace(string(res.Stdout))
	if err != nil {
		return word, err
	}
	if word == "" {
		return "", errors.New("systemctl is-system-running printed nothing")
	}
	return word, nil
}
