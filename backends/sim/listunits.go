package sim

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nixfleet/nixfleet-activate/proc"
)

// listUnits emulates systemd 252's `systemctl list-units --state=failed
// --plain --no-legend`: one line per failed unit, "NAME LOAD ACTIVE SUB
// DESCRIPTION" (--plain hides the leading status glyph column, --no-legend
// the header and footer), nothing at all when none failed. The failed
// units are the transient units whose ActiveState is failed and those an
// activation failed to start (SwitchBehaviour.FailedUnits). Other list-units
// forms are not emulated.
func (h *Host) listUnits(o showOptions) (proc.Result, error) {
	if o.state != "failed" || len(o.units) > 0 {
		return proc.Result{}, fmt.Errorf("%w: systemctl list-units without --state=failed", ErrNotEmulated)
	}
	var lines []string
	for name := range h.units {
		if st := h.Unit(name); st.ActiveState == "failed" {
			lines = append(lines, fmt.Sprintf("%s loaded failed %s %s", name, st.SubState, st.Description))
		}
	}
	for _, name := range h.failedUnits {
		lines = append(lines, fmt.Sprintf("%s loaded failed failed %s", name, name))
	}
	slices.Sort(lines)
	if len(lines) == 0 {
		return result(0, "", ""), nil
	}
	return result(0, strings.Join(lines, "\n")+"\n", ""), nil
}
