package pipeline

import (
	"strconv"
	"unicode/utf8"
)

// MaxQuotedInput bounds how much of a rejected input a message quotes, in
// bytes of the input (the rest is elided with "…").
const MaxQuotedInput = 120

// QuoteInput quotes s for an error message (Go syntax: control and
// non-printing characters escaped), at most MaxQuotedInput bytes of it,
// cut at a rune boundary.
func QuoteInput(s string) string {
	if len(s) <= MaxQuotedInput {
		return strconv.Quote(s)
	}
	cut := MaxQuotedInput
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

// quoteRuneAt quotes the character starting at byte i of s: the whole
// rune (%q of a rune), or the byte in \x form when s is not valid UTF-8
// there.
func quoteRuneAt(s string, i int) string {
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size <= 1 {
		return strconv.Quote(s[i : i+1])
	}
	return strconv.QuoteRune(r)
}
