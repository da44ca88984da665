package testscripts

// SuggestCommands returns the language's commands one edit away from name
// (one letter added, dropped, changed, or two neighbours swapped), in
// reference order: the "did you mean" of an unknown command, as the
// runner (go-internal's testscript) offers for a misspelt line.
func SuggestCommands(name string) []string {
	var near []string
	for _, c := range CommandNames() {
		if c != name && oneEditApart(name, c) {
			near = append(near, c)
		}
	}
	return near
}

// oneEditApart reports whether a becomes b by one insertion, deletion,
// substitution or transposition of adjacent bytes.
func oneEditApart(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	switch len(b) - len(a) {
	case 0:
		return sameLengthOneEdit(a, b)
	case 1:
		i := commonPrefix(a, b)
		return a[i:] == b[i+1:]
	}
	return false
}

func sameLengthOneEdit(a, b string) bool {
	i := commonPrefix(a, b)
	if i == len(a) {
		return false
	}
	if a[i+1:] == b[i+1:] {
		return true // one substitution
	}
	return i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:]
}

func commonPrefix(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}
