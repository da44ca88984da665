package pipeline

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseClosure(t *testing.T) {
	hash := oldClosure[:32]
	cases := []struct {
		in, want, reason string
	}{
		{in: oldClosure, want: oldClosure},
		{in: "/nix/store/" + oldClosure, want: oldClosure},
		{in: "/nix/store/" + oldClosure + "/", reason: "contains '/'"},
		{in: "/nix/store/" + oldClosure + "/bin/switch-to-configuration", reason: "contains '/'"},
		{in: "/etc/" + oldClosure, reason: "not under the store directory"},
		{in: "", reason: "empty"},
		{in: hash + "-..", reason: "contains '..'"},
		{in: "not-a-hash", reason: "want <32-char hash>-<name>"},
		{in: hash + "x-name", reason: "want <32-char hash>-<name>"},
		{in: strings.Replace(hash, "0", "e", 1) + "-n", reason: "outside Nix's base-32 alphabet"},
		{in: strings.ToUpper(hash) + "-n", reason: "outside Nix's base-32 alphabet"},
		{in: hash + "-.n", reason: "starts with '.'"},
		{in: hash + "-a$b", reason: "not allowed in a store path"},
		{in: hash + "-" + strings.Repeat("a", 212), reason: "longer than 211"},
		{in: hash + "-" + strings.Repeat("a", 211), want: hash + "-" + strings.Repeat("a", 211)},
		{in: hash + "-a+b_c?d=e", want: hash + "-a+b_c?d=e"},
	}
	for _, c := range cases {
		got, err := ParseClosure("/nix/store", c.in)
		if c.reason == "" {
			require.NoError(t, err, c.in)
			assert.Equal(t, c.want, got)
			continue
		}
		var ice *InvalidClosureError
		require.True(t, errors.As(err, &ice), "%q: want *InvalidClosureError, got %v", c.in, err)
		assert.Contains(t, ice.Reason, c.reason, c.in)
	}
}

func TestTailIsBoundedAndValidUTF8(t *testing.T) {
	s := strings.Repeat("é", 2000) + "\xff end"
	got := Tail(s, MaxStderrTail)
	assert.LessOrEqual(t, len(got), MaxStderrTail)
	assert.True(t, strings.HasSuffix(got, "\uFFFD end"))
	assert.True(t, isValidUTF8(got))
}

func isValidUTF8(s string) bool { return strings.ToValidUTF8(s, "") == s }
