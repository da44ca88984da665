package testscripts

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// argSpec names what a command accepts after its positional arguments:
// options "key=value" (listed as "key=") and bare flags ("valid").
type argSpec []string

// parsed is a command line split by an argSpec.
type parsed struct {
	pos   []string
	opts  map[string]string
	flags map[string]bool
}

// parse splits args into positional words, known options and known flags.
// A word "k=v" whose k is not an option of the spec stays positional (fault
// words such as "--unit=x"); a repeated option is an error.
func (spec argSpec) parse(args []string) (parsed, error) {
	p := parsed{opts: map[string]string{}, flags: map[string]bool{}}
	for _, a := range args {
		key, value, hasValue := strings.Cut(a, "=")
		switch {
		case hasValue && slices.Contains(spec, key+"="):
			if _, dup := p.opts[key]; dup {
				return p, usagef("option %s= given twice", key)
			}
			p.opts[key] = value
		case !hasValue && slices.Contains(spec, a):
			p.flags[a] = true
		default:
			p.pos = append(p.pos, a)
		}
	}
	return p, nil
}

// parseN is parse that also wants exactly n positional arguments (what
// names them in the error); stray words, such as misspelt options, fail.
func (spec argSpec) parseN(args []string, n int, what string) (parsed, error) {
	p, err := spec.parse(args)
	if err == nil && len(p.pos) != n {
		err = usagef("want %s, got %q", what, p.pos)
	}
	return p, err
}

// duration reads an option as a Go duration ("9s", "1m30s"); def when absent.
func (p parsed) duration(key string, def time.Duration) (time.Duration, error) {
	raw, ok := p.opts[key]
	if !ok {
		return def, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d < 0 {
		return 0, usagef("%s=%q: want a duration such as 9s", key, raw)
	}
	return d, nil
}

// integer reads an option as a non-negative integer; def when absent.
func (p parsed) integer(key string, def int) (int, error) {
	raw, ok := p.opts[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 {
		return 0, usagef("%s=%q: want a non-negative integer", key, raw)
	}
	return n, nil
}

// list reads a comma-separated option; "none" is the empty list; def when
// absent.
func (p parsed) list(key string, def []string) []string {
	raw, ok := p.opts[key]
	switch {
	case !ok:
		return def
	case raw == "none" || raw == "":
		return nil
	}
	return strings.Split(raw, ",")
}

// atOffset splits "VALUE@DURATION" (profile-move=old@6s).
func atOffset(key, raw string) (string, time.Duration, error) {
	value, at, ok := strings.Cut(raw, "@")
	d, err := time.ParseDuration(at)
	if !ok || value == "" || err != nil || d < 0 {
		return "", 0, usagef("%s=%q: want VALUE@DURATION such as old@6s", key, raw)
	}
	return value, d, nil
}

// durationRange reads "D" (exactly) or "MIN..MAX" (inclusive).
func durationRange(raw string) (lo, hi time.Duration, err error) {
	a, b, isRange := strings.Cut(raw, "..")
	if lo, err = time.ParseDuration(a); err != nil {
		return 0, 0, usagef("%q: want DURATION or MIN..MAX", raw)
	}
	if !isRange {
		return lo, lo, nil
	}
	if hi, err = time.ParseDuration(b); err != nil || hi < lo {
		return 0, 0, usagef("%q: want DURATION or MIN..MAX", raw)
	}
	return lo, hi, nil
}
