package pipeline

import (
	"strings"
	"unicode/utf8"
)

// MaxStderrTail is the most bytes of a command's stderr kept in an outcome.
const MaxStderrTail = 2048

// lastLine returns the last non-empty line of s, trimmed.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return ""
}

// Tail returns at most max bytes from the end of s, cut at a rune boundary,
// with invalid UTF-8 replaced, so the result is always valid UTF-8 and
// never longer than max bytes.
func Tail(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= max {
		return s
	}
	cut := len(s) - max
	for cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut++
	}
	return s[cut:]
}
