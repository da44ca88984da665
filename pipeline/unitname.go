package pipeline

import (
	"fmt"
	"strings"
)

// Unit name rules of systemd 252 (src/basic/unit-name.c,
// unit_name_is_valid with UNIT_NAME_PLAIN|UNIT_NAME_INSTANCE, and
// src/basic/string-util.h's VALID_CHARS).
const (
	// UnitNameMax is the longest unit name systemd accepts, suffix included
	// (UNIT_NAME_MAX is 256 with the terminating NUL).
	UnitNameMax = 255
	// unitChars are VALID_CHARS: letters, digits and ":-_.\"; "@" also
	// separates a template's prefix from its instance.
	unitChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\@"
	// serviceSuffix is what the backends append to a transient unit's name.
	serviceSuffix = ".service"
)

// InvalidUnitNameError says why a transient unit name was rejected.
type InvalidUnitNameError struct {
	Name, Reason string
}

func (e *InvalidUnitNameError) Error() string {
	return fmt.Sprintf("invalid unit name %s: %s", QuoteInput(e.Name), e.Reason)
}

// ValidateUnitName checks a transient unit name given without ".service"
// (--switch-unit, --rollback-unit) by systemd 252's rules for a plain or
// instance unit: non-empty, at most UnitNameMax characters with the
// suffix, only VALID_CHARS and "@", no empty prefix before "@" nor empty
// instance after it (a template cannot run). It also refuses a leading
// "-", so the name can never be read as an option. Errors:
// *InvalidUnitNameError.
func ValidateUnitName(name string) error {
	bad := func(format string, args ...any) error {
		return &InvalidUnitNameError{Name: name, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case name == "":
		return bad("empty")
	case strings.HasPrefix(name, "-"):
		return bad("begins with '-' (would read as an option)")
	case len(name)+len(serviceSuffix) > UnitNameMax:
		return bad("longer than %d characters with %q", UnitNameMax-len(serviceSuffix), serviceSuffix)
	}
	if i := strings.IndexFunc(name, notIn(unitChars)); i >= 0 {
		return bad("has %s, not allowed in a unit name (systemd allows letters, digits and \":-_.\\@\")", quoteRuneAt(name, i))
	}
	if at := strings.IndexByte(name, '@'); at == 0 {
		return bad("empty prefix before '@'")
	} else if at == len(name)-1 {
		return bad("empty instance after '@' (a template cannot be started)")
	}
	return nil
}
