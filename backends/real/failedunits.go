package real

import (
	"context"
	"fmt"
	"strings"

	"github.com/nixfleet/nixfleet-activate/proc"
)

// FailedUnitsCmd is `systemctl list-units --state=failed --plain
// --no-legend` (systemd 252): one line per failed unit, "NAME LOAD ACTIVE
// SUB DESCRIPTION"; --plain hides the status glyph column, --no-legend the
// header and the footer, so no failed unit prints nothing.
func (b *Backend) FailedUnitsCmd() proc.Cmd {
	return proc.Cmd{Argv: []string{b.cfg.Systemctl, "list-units", "--state=failed", "--plain", "--no-legend"}}
}

// FailedUnits runs FailedUnitsCmd and returns the units' names in the
// order systemctl prints them (pipeline.FailedUnitsLister). Errors: as
// UnitStatus's; ErrBadOutput (wrapped) for a line whose first field is not
// a unit name.
func (b *Backend) FailedUnits(ctx context.Context) ([]string, error) {
	res, err := b.runChecked(ctx, b.FailedUnitsCmd())
	if err != nil {
		return nil, err
	}
	return ParseFailedUnits(string(res.Stdout))
}

// ParseFailedUnits reads FailedUnitsCmd's output: the first field of each
// non-empty line, which must look like a unit name (a dot, systemd's
// unit-name characters only; systemd 252 unit-name.c).
func ParseFailedUnits(out string) ([]string, error) {
	units := []string{}
	for line := range strings.Lines(out) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if !isUnitName(fields[0]) {
			return nil, fmt.Errorf("%w: list-units line %q", ErrBadOutput, strings.TrimSpace(line))
		}
		units = append(units, fields[0])
	}
	return units, nil
}

func isUnitName(s string) bool {
	if len(s) > 256 || !strings.Contains(s, ".") {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(":-_.\\@", r))
	}) < 0
}
