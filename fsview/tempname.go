package fsview

import "strings"

// The suffix tempName ends a temporary name with: tempMark and
// tempDigits lowercase hex digits (".tmp-0123456789abcdef").
const (
	tempMark   = ".tmp-"
	tempDigits = 16
)

// CutTempSuffix returns name without the suffix of the View's temporary
// names (".tmp-" and 16 lowercase hex digits, at its end) and true, or
// name and false when it does not end with one. The rest of a temporary
// name is "." and the base of the entry it replaces.
func CutTempSuffix(name string) (before string, found bool) {
	start := len(name) - len(tempMark) - tempDigits
	if start < 0 || name[start:start+len(tempMark)] != tempMark {
		return name, false
	}
	if strings.Trim(name[start+len(tempMark):], "0123456789abcdef") != "" {
		return name, false
	}
	return name[:start], true
}
