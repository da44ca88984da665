package real

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// ErrUnitBusy is wrapped by Fire when the transient unit is still running a
// switch: Fire then starts nothing.
var ErrUnitBusy = pipeline.ErrUnitBusy

// ErrBadFireRequest is wrapped by Fire when the request cannot be turned
// into a safe systemd-run command line.
var ErrBadFireRequest = errors.New("invalid fire request")

// switchActions are the verbs switch-to-configuration accepts.
var switchActions = map[pipeline.Action]bool{
	pipeline.ActionSwitch: true, pipeline.ActionBoot: true, "test": true, "dry-activate": true,
}

// unitNameChars are the characters systemd allows in a unit name prefix
// (letters, digits, ":", "-", "_", ".", "\", and "@" for templates).
const unitNameChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\@"

// onlyUnitNameChars reports whether name is non-empty and made of
// unitNameChars only.
func onlyUnitNameChars(name string) bool {
	return name != "" && strings.Trim(name, unitNameChars) == ""
}

// ValidateFireRequest checks req before it becomes a command line: Unit is
// a unit name without ".service"; Closure is an absolute path without "$"
// or whitespace (systemd-run would expand "$", see RunCmd); Action is a
// switch-to-configuration verb. Errors wrap ErrBadFireRequest.
func ValidateFireRequest(req pipeline.FireRequest) error {
	switch {
	case !onlyUnitNameChars(req.Unit) || strings.HasSuffix(req.Unit, ".service"):
		return fmt.Errorf("%w: unit name %q", ErrBadFireRequest, req.Unit)
	case !strings.HasPrefix(req.Closure, "/") || strings.ContainsAny(req.Closure, "$ \t\n"):
		return fmt.Errorf("%w: closure %q", ErrBadFireRequest, req.Closure)
	case !switchActions[req.Action]:
		return fmt.Errorf("%w: action %q", ErrBadFireRequest, req.Action)
	}
	return nil
}

// Fire starts CLOSURE/bin/switch-to-configuration ACTION in the transient
// unit req.Unit (RunCmd) and returns once systemd has executed it, not when
// the switch ends. The caller frees the name first (ReleaseUnit, once:
// the pipeline owns that step, so a fire costs one systemctl show, not
// two). Errors: ErrBadFireRequest, *pipeline.CommandError, or a plain
// error on timeout.
func (b *Backend) Fire(ctx context.Context, req pipeline.FireRequest) error {
	if err := ValidateFireRequest(req); err != nil {
		return err
	}
	_, err := b.runChecked(ctx, b.RunCmd(req))
	if err != nil && startJobFailed(err) && b.unitRanItsProgram(ctx, req.Unit) {
		// GOTCHA: with --service-type=exec, a program that exits non-zero
		// within milliseconds can fail systemd-run's start job (systemd 252,
		// under load); the switch did run, so it is followed, not refused.
		return nil
	}
	return err
}

// startJobFailed reports systemd-run's "Job for U.service failed because
// the control process exited with error code." (systemd 252).
func startJobFailed(err error) bool {
	var ce *pipeline.CommandError
	return errors.As(err, &ce) && jobFailed().MatchString(ce.Stderr)
}

// jobFailed matches systemd-run's start job failure (compiled on first use).
var jobFailed = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`Job for \S+ failed`) })

// unitRanItsProgram reports whether the unit's main process ran and ended
// on its own terms (an exit status outside systemd's exec setup failures,
// or a signal), as opposed to never being executed.
func (b *Backend) unitRanItsProgram(ctx context.Context, unit string) bool {
	st, err := b.UnitStatus(ctx, unit)
	switch {
	case err != nil || st.State != pipeline.UnitExited:
		return false
	case st.Signal != nil:
		return true
	}
	return st.ExitCode != nil && !pipeline.ExecSetupFailed(*st.ExitCode)
}

// ReleaseUnit frees a transient unit's name for the next systemd-run: a
// unit still loaded after an earlier run is cleared (clearUnit); a unit
// that is not loaded needs nothing (systemd 252 refuses a loaded name:
// "Unit U.service was already loaded or has a fragment file"). Errors: a
// running unit wraps ErrUnitBusy (nothing is stopped),
// *pipeline.CommandError, or a plain error on timeout.
func (b *Backend) ReleaseUnit(ctx context.Context, unit string) error {
	// LOADBEARING: status before stop: stopping a running unit would kill a
	// switch-to-configuration half way through activation.
	status, active, err := b.unitShow(ctx, unit)
	if err != nil {
		return err
	}
	switch status.State {
	case pipeline.UnitRunning:
		return fmt.Errorf("%w: %s", ErrUnitBusy, serviceName(unit))
	case pipeline.UnitExited:
		// LOADBEARING: clear the old unit before systemd-run, which refuses
		// a name that is still loaded.
		return b.clearUnit(ctx, unit, active)
	}
	return nil
}

// clearCmds are the commands that unload an exited transient unit, as
// systemd 252 unloads transient units (observed in the container,
// docs/REAL-TOOLS.md): a "failed" one needs only reset-failed (stop leaves
// it failed); any other needs stop, then reset-failed. ReleaseUnit's nil
// means the name is free: the in-flight record written after it relies on
// that (recovery reads a loaded unit of that name as this run's fire).
func (b *Backend) clearCmds(active string) []func(string) proc.Cmd {
	if active == "failed" {
		return []func(string) proc.Cmd{b.ResetFailedCmd}
	}
	// LOADBEARING: stop, then reset-failed: a stop past TimeoutStopSec leaves the unit loaded and failed (systemd 252).
	return []func(string) proc.Cmd{b.StopCmd, b.ResetFailedCmd}
}

// clearUnit unloads a unit that has exited (clearCmds). "not loaded"
// refusals mean the unit is already gone and are ignored.
func (b *Backend) clearUnit(ctx context.Context, unit, active string) error {
	for _, cmd := range b.clearCmds(active) {
		if err := b.runIgnoringNotLoaded(ctx, cmd(unit)); err != nil {
			return err
		}
	}
	return nil
}

func (b *Backend) runIgnoringNotLoaded(ctx context.Context, cmd proc.Cmd) error {
	_, err := b.runChecked(ctx, cmd)
	var cmdErr *pipeline.CommandError
	if errors.As(err, &cmdErr) && IsUnitNotLoaded(cmdErr.Stderr) {
		return nil
	}
	return err
}

// UnitStatus runs UnitStatusCmd and parses it with ParseUnitShow. An unknown
// status is never reported as 0: a unit that is not loaded is UnitUnknown.
// Errors: *pipeline.CommandError when systemctl exits non-zero (for
// instance when systemd is not running), ErrBadOutput (wrapped) on output
// it cannot read, or a plain error on timeout.
func (b *Backend) UnitStatus(ctx context.Context, unit string) (pipeline.UnitStatus, error) {
	status, _, err := b.unitShow(ctx, unit)
	return status, err
}

// unitShow is UnitStatus plus the unit's ActiveState as systemctl printed
// it ("" when not loaded), which ReleaseUnit needs to choose its commands.
func (b *Backend) unitShow(ctx context.Context, unit string) (pipeline.UnitStatus, string, error) {
	res, err := b.runChecked(ctx, b.UnitStatusCmd(unit))
	if err != nil {
		return pipeline.UnitStatus{}, "", err
	}
	props := parseProperties(string(res.Stdout))
	status, err := parseUnitProps(props)
	if err != nil || status.State == pipeline.UnitUnknown {
		return status, "", err
	}
	return status, props["ActiveState"], nil
}
