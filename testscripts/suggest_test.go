package testscripts

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The "did you mean" list holds the commands one edit away, each kind of
// edit included, and nothing two edits away or the name itself.
func TestSuggestCommandsOneEditAway(t *testing.T) {
	for name, want := range map[string][]string{
		"activat":   {"activate"}, // a letter dropped
		"activatee": {"activate"}, // a letter added
		"activbte":  {"activate"}, // a letter changed
		"acitvate":  {"activate"}, // two neighbours swapped
		"actvat":    nil,          // two edits
		"activate":  nil,          // the command itself
		"rollbak":   {"rollback"}, // a letter dropped
		"":          nil,          // nothing is one edit from every command
	} {
		assert.Equal(t, want, SuggestCommands(name), "%q", name)
	}
}
