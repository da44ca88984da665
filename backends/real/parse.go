package real

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// ErrBadOutput is wrapped by every parser error: a tool printed something
// this package does not understand.
var ErrBadOutput = errors.New("unrecognised tool output")

// ParseRealisedPath returns the last non-empty line of a successful
// nix-store --realise's stdout, which is the realised store path (Nix 2.8
// prints one path per argument). Errors: ErrBadOutput when stdout is blank.
func ParseRealisedPath(stdout string) (string, error) {
	if line := lastNonEmptyLine(stdout); line != "" {
		return line, nil
	}
	return "", fmt.Errorf("nix-store --realise printed no path: %w", ErrBadOutput)
}

func lastNonEmptyLine(s string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return ""
}

// refusedRequest is Nix's --debug line for a transfer answered 401, 403 or
// 407 (Nix 2.3 to current, filetransfer.cc; observed with Nix 2.8):
// "finished download of 'URL'; curl status = 0, HTTP status = 401, body =
// 0 bytes", "finished upload of" for nix-cache-info. Compiled on first use.
var refusedRequest = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?m)^finished (download|upload) of '[^'\n]*'; curl status = \d+, HTTP status = 40[137]\b.*$`)
})

// RefusedRequests returns the --debug lines of stderr that report a
// request a substituter refused (HTTP 401, 403, 407), in order.
func RefusedRequests(stderr string) []string {
	return refusedRequest().FindAllString(stderr, -1)
}

// Generation is one line of nix-env --list-generations.
type Generation struct {
	Number int
	// Created is when the generation was made, as printed by nix-env in the
	// host's local time zone, to the second.
	Created time.Time
	// Current marks the generation the profile points at.
	Current bool
}

// generationTimeLayout is nix-env's creation time format (Nix 2.8).
const generationTimeLayout = "2006-01-02 15:04:05"

// ParseGenerations parses nix-env --profile P --list-generations output
// (Nix 2.8: `   1   2026-11-29 12:14:21   (current)`, one generation a line,
// oldest first), reading the times in loc. Blank lines are skipped; a
// missing profile prints nothing and yields no generations. Errors:
// ErrBadOutput for any other line shape.
func ParseGenerations(stdout string, loc *time.Location) ([]Generation, error) {
	var gens []Generation
	for _, line := range strings.Split(stdout, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		g, err := parseGenerationLine(line, loc)
		if err != nil {
			return nil, err
		}
		gens = append(gens, g)
	}
	return gens, nil
}

func parseGenerationLine(line string, loc *time.Location) (Generation, error) {
	f := strings.Fields(line)
	bad := fmt.Errorf("generation line %q: %w", line, ErrBadOutput)
	if len(f) != 3 && !(len(f) == 4 && f[3] == "(current)") {
		return Generation{}, bad
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 0 {
		return Generation{}, bad
	}
	created, err := time.ParseInLocation(generationTimeLayout, f[1]+" "+f[2], loc)
	if err != nil {
		return Generation{}, bad
	}
	return Generation{Number: n, Created: created, Current: len(f) == 4}, nil
}

// ExecMainCode values (the si_code of the main process's SIGCHLD), as
// systemd 252 reports them in ExecMainCode.
const (
	cldExited = 1 // CLD_EXITED: ExecMainStatus is the exit status.
	cldKilled = 2 // CLD_KILLED: ExecMainStatus is the signal number.
	cldDumped = 3 // CLD_DUMPED: killed, core dumped; ExecMainStatus is the signal.
)

// ParseUnitShow turns the KEY=VALUE lines of `systemctl show
// --property=LoadState,ActiveState,SubState,Result,ExecMainCode,
// ExecMainStatus,ExecMainPID U.service` (systemd 252, any order) into a
// pipeline.UnitStatus:
//   - LoadState other than "loaded": UnitUnknown, nothing else trusted
//     (systemd 252 prints ExecMainStatus=0 for units it does not know).
//   - ExecMainCode 1 (CLD_EXITED): UnitExited, ExitCode = ExecMainStatus.
//   - ExecMainCode 2 or 3 (CLD_KILLED, CLD_DUMPED): UnitExited, Signal =
//     ExecMainStatus (even for SIGTERM, which systemd 252 counts as a clean
//     exit: Result=success, active/exited).
//   - otherwise (no exit recorded), ActiveState active, activating,
//     reloading, deactivating or refreshing: UnitRunning; inactive or
//     failed: UnitExited with nil ExitCode and Signal (status unknown).
//
// Result is copied whenever the unit is loaded. Errors: ErrBadOutput when
// LoadState is missing, or a loaded unit has a missing or non-numeric
// ExecMainCode/ExecMainStatus or an unknown ActiveState.
func ParseUnitShow(stdout string) (pipeline.UnitStatus, error) {
	return parseUnitProps(parseProperties(stdout))
}

// parseUnitProps is ParseUnitShow on the properties already split.
func parseUnitProps(props map[string]string) (pipeline.UnitStatus, error) {
	load, ok := props["LoadState"]
	if !ok {
		return pipeline.UnitStatus{}, fmt.Errorf("systemctl show: no LoadState: %w", ErrBadOutput)
	}
	if load != "loaded" {
		return pipeline.UnitStatus{State: pipeline.UnitUnknown}, nil
	}
	code, err := intProperty(props, "ExecMainCode")
	if err != nil {
		return pipeline.UnitStatus{}, err
	}
	status := pipeline.UnitStatus{Result: props["Result"]}
	switch code {
	case cldExited, cldKilled, cldDumped:
		return exitedStatus(status, props, code)
	}
	switch props["ActiveState"] {
	case "active", "activating", "reloading", "deactivating", "refreshing":
		status.State = pipeline.UnitRunning
	case "inactive", "failed":
		status.State = pipeline.UnitExited
	default:
		return pipeline.UnitStatus{}, fmt.Errorf("systemctl show: ActiveState %q: %w", props["ActiveState"], ErrBadOutput)
	}
	return status, nil
}

func exitedStatus(status pipeline.UnitStatus, props map[string]string, code int) (pipeline.UnitStatus, error) {
	value, err := intProperty(props, "ExecMainStatus")
	if err != nil {
		return pipeline.UnitStatus{}, err
	}
	status.State = pipeline.UnitExited
	if code == cldExited {
		status.ExitCode = &value
	} else {
		status.Signal = &value
	}
	return status, nil
}

// parseProperties reads KEY=VALUE lines; the value is everything after the
// first '=' (systemd values may contain '='). Other lines are ignored.
func parseProperties(stdout string) map[string]string {
	props := make(map[string]string)
	for _, line := range strings.Split(stdout, "\n") {
		key, value, ok := strings.Cut(strings.TrimRight(line, "\r"), "=")
		if ok && key != "" {
			props[key] = value
		}
	}
	return props
}

func intProperty(props map[string]string, key string) (int, error) {
	raw, ok := props[key]
	if !ok {
		return 0, fmt.Errorf("systemctl show: no %s: %w", key, ErrBadOutput)
	}
	v, err := strconv.Atoi(raw)
	if err != nil {
		return 0, fmt.Errorf("systemctl show: %s=%q: %w", key, raw, ErrBadOutput)
	}
	return v, nil
}

// unitNotLoaded matches systemctl's refusal for a unit the manager does not
// have loaded (systemd 252: "Failed to stop U.service: Unit U.service not
// loaded."; reset-failed says the same; D-Bus NoSuchUnit may also read
// "not found"). Compiled on first use.
var unitNotLoaded = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`Unit \S+ not (loaded|found)`) })

// IsUnitNotLoaded reports whether a failed systemctl stop or reset-failed
// only complained that the unit is not loaded, which Fire treats as done.
func IsUnitNotLoaded(stderr string) bool {
	return unitNotLoaded().MatchString(stderr)
}
