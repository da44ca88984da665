package proc

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Lines reach the sink as the command prints them, and the tail is kept.
func TestExecStreamsStderrLines(t *testing.T) {
	var lines []string
	ctx := WithStderrLines(context.Background(), func(l string) { lines = append(lines, l) })
	res, err := Exec{}.Run(ctx, Cmd{Argv: []string{"sh", "-c", "echo copying >&2; echo done >&2; printf tail >&2"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"copying", "done", "tail"}, lines)
	assert.Equal(t, "copying\ndone\ntail", string(res.Stderr))
}

// A line longer than MaxStreamedLine is cut; memory stays bounded.
func TestLineWriterBoundsALongLine(t *testing.T) {
	var lines []string
	w := &lineWriter{sink: func(l string) { lines = append(lines, l) }}
	_, _ = w.Write([]byte(strings.Repeat("x", 3*MaxStreamedLine)))
	_, _ = w.Write([]byte(strings.Repeat("y", MaxStreamedLine) + "\nnext\n"))
	require.NoError(t, w.Close())
	require.Len(t, lines, 2)
	assert.Len(t, lines[0], MaxStreamedLine)
	assert.Equal(t, "next", lines[1])
	assert.LessOrEqual(t, cap(w.partial), 4*MaxStreamedLine)
}
