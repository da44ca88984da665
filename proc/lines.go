package proc

import (
	"bytes"
	"context"
	"io"
	"unicode/utf8"
)

// MaxStreamedLine bounds one streamed stderr line, in bytes: a longer line
// is passed on cut at a rune boundary, the rest of it dropped.
const MaxStreamedLine = 4 << 10

type stderrLinesKey struct{}

// WithStderrLines returns a context under which Exec passes each line of
// the command's standard error to sink as it arrives (without its newline,
// at most MaxStreamedLine bytes), besides keeping the bounded tail in
// Result.Stderr. sink runs on Exec's copying goroutine, one line at a
// time. Runners other than Exec may ignore it (the simulator answers at
// once, so its output is in Result.Stderr).
func WithStderrLines(ctx context.Context, sink func(line string)) context.Context {
	return context.WithValue(ctx, stderrLinesKey{}, sink)
}

func stderrLines(ctx context.Context) func(string) {
	sink, _ := ctx.Value(stderrLinesKey{}).(func(string))
	return sink
}

// lineWriter splits what is written into lines for sink, holding at most
// MaxStreamedLine bytes of an unfinished line.
type lineWriter struct {
	sink    func(string)
	partial []byte
	// dropping: the current line passed MaxStreamedLine and was sent.
	dropping bool
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		w.add(chunk)
		if i < 0 {
			break
		}
		w.flush()
		w.dropping = false
		p = p[i+1:]
	}
	return n, nil
}

func (w *lineWriter) add(chunk []byte) {
	if w.dropping {
		return
	}
	w.partial = append(w.partial, chunk...)
	if len(w.partial) > MaxStreamedLine {
		cut := MaxStreamedLine
		for cut > 0 && !utf8.RuneStart(w.partial[cut]) {
			cut--
		}
		w.partial = w.partial[:cut]
		w.flush()
		w.dropping = true
	}
}

// flush sends the held line, if any.
func (w *lineWriter) flush() {
	if len(w.partial) > 0 && !w.dropping {
		w.sink(string(w.partial))
	}
	w.partial = w.partial[:0]
}

// Close sends a last line that had no newline.
func (w *lineWriter) Close() error {
	w.flush()
	return nil
}

// teeStderr returns the writer for a command's stderr: the bounded tail,
// and the line sink from ctx when there is one (close the second result
// after the command ended; nil when no sink).
func teeStderr(ctx context.Context, tail io.Writer) (io.Writer, io.Closer) {
	sink := stderrLines(ctx)
	if sink == nil {
		return tail, nil
	}
	lw := &lineWriter{sink: sink}
	return io.MultiWriter(tail, lw), lw
}
