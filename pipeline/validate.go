package pipeline

import (
	"fmt"
	"strings"
)

// Store path syntax, as Nix 2.8 checks it (libstore/path.cc): a basename is
// a 32-character hash in Nix's base-32 alphabet, "-", then a name.
const (
	// HashLen is the length of a store path's hash part.
	HashLen = 32
	// MaxNameLen is the longest name Nix accepts after the hash (211).
	MaxNameLen = 211
	// nixBase32 is Nix's base-32 alphabet: digits and lowercase letters
	// without e, o, u, t.
	nixBase32 = "0123456789abcdfghijklmnpqrsvwxyz"
	// nameChars are the characters Nix allows in a store path name.
	nameChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-._?="
)

// InvalidClosureError says why a closure basename was rejected. Nothing is
// run for a rejected closure.
type InvalidClosureError struct {
	Input  string
	Reason string
}

func (e *InvalidClosureError) Error() string {
	return fmt.Sprintf("invalid closure %s: %s", QuoteInput(e.Input), e.Reason)
}

// ValidateBasename checks that s is a store path basename
// "<32-char nix base-32 hash>-<name>". Errors: *InvalidClosureError.
func ValidateBasename(s string) error {
	bad := func(format string, args ...any) error {
		return &InvalidClosureError{Input: s, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case s == "":
		return bad("empty")
	case strings.Contains(s, "/"):
		return bad("contains '/'")
	case strings.Contains(s, ".."):
		return bad("contains '..'")
	case len(s) < HashLen+2 || s[HashLen] != '-':
		return bad("want <%d-char hash>-<name>", HashLen)
	case len(s)-HashLen-1 > MaxNameLen:
		return bad("name longer than %d characters", MaxNameLen)
	}
	if i := strings.IndexFunc(s[:HashLen], notIn(nixBase32)); i >= 0 {
		return bad("hash has %s, outside Nix's base-32 alphabet", quoteRuneAt(s, i))
	}
	name := s[HashLen+1:]
	if name[0] == '.' {
		return bad("name starts with '.'")
	}
	if i := strings.IndexFunc(name, notIn(nameChars)); i >= 0 {
		return bad("name has %s, not allowed in a store path", quoteRuneAt(name, i))
	}
	return nil
}

func notIn(set string) func(rune) bool {
	return func(r rune) bool { return !strings.ContainsRune(set, r) }
}

// ParseClosure accepts a closure as a basename or as "<storeDir>/<basename>"
// (no trailing slash, no subpath) and returns the validated basename.
// Errors: *InvalidClosureError.
func ParseClosure(storeDir, s string) (string, error) {
	prefix := strings.TrimSuffix(storeDir, "/") + "/"
	if strings.HasPrefix(s, "/") {
		if !strings.HasPrefix(s, prefix) {
			return "", &InvalidClosureError{Input: s, Reason: "not under the store directory " + storeDir}
		}
		s = s[len(prefix):]
	}
	return s, ValidateBasename(s)
}
