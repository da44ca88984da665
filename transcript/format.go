package transcript

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/nixfleet/nixfleet-activate/proc"
)

// File names inside the archive.
const (
	fileSteps   = "steps"
	fileOptions = "options.json"
	fileBackend = "backend.json"
	fileMeta    = "meta.json"
	fileOutcome = "outcome.json"
	fileError   = "error"
	fileNotes   = "notes"
	// quotedSuffix marks a blob stored as Go-quoted lines because it does
	// not end in a newline or holds a line txtar would read as a marker.
	quotedSuffix = ".q"
)

const banner = `# nixfleet-activate transcript: one run as the pipeline saw the host, step by step.
# Recorded with --record FILE; replay with "nixfleet-activate transcript replay FILE"
# or the scenario command "replay FILE". Secret-looking --meta values and substituter
# credentials are redacted; read it before attaching it to a bug report.
`

// Format renders t as a txtar archive.
func Format(t *Transcript) []byte {
	a := &txtar.Archive{Comment: []byte(banner + formatHeader(t.Header))}
	add := func(name string, data []byte) {
		if len(data) == 0 {
			return
		}
		a.Files = append(a.Files, blob(name, data))
	}
	add(fileOutcome, indentJSON(t.Outcome))
	add(fileError, lineOf(t.Error))
	add(fileNotes, []byte(strings.Join(t.Notes, "\n")))
	add(fileOptions, mustJSON(t.Header.Options))
	add(fileBackend, mustJSON(t.Header.Backend))
	if len(t.Header.Target.Meta) > 0 {
		add(fileMeta, mustJSON(t.Header.Target.Meta))
	}
	var steps strings.Builder
	n := 0
	for i, s := range t.Steps {
		steps.WriteString(formatStep(i+1, s, &n))
		steps.WriteByte('\n')
	}
	add(fileSteps, []byte(steps.String()))
	n = 0
	for i, s := range t.Steps {
		if s.Kind == KindRun && s.Cmd != nil {
			n++
			add(runFile(n, "argv"), formatArgv(s.Cmd.Argv))
			add(runFile(n, "stdout"), s.Cmd.Stdout)
			add(runFile(n, "stderr"), s.Cmd.Stderr)
		} else {
			add(dataFile(i+1), s.Data)
		}
	}
	return txtar.Format(a)
}

func runFile(n int, part string) string { return fmt.Sprintf("run/%03d.%s", n, part) }
func dataFile(seq int) string           { return fmt.Sprintf("data/%04d", seq) }

func lineOf(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s + "\n")
}

func mustJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return []byte(fmt.Sprintf("%q\n", err.Error()))
	}
	return append(b, '\n')
}

func indentJSON(raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") != nil {
		return append([]byte(nil), raw...)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

func formatHeader(h Header) string {
	var b strings.Builder
	kv := func(k, v string) { fmt.Fprintf(&b, "%s: %s\n", k, v) }
	kv("version", strconv.Itoa(Version))
	kv("tool", h.Tool)
	kv("command", h.Command)
	kv("closure", h.Target.Closure)
	kv("state-dir", h.StateDir)
	kv("uid", strconv.Itoa(h.UID))
	kv("events", onOff(h.Events))
	if len(h.Layers) > 0 {
		kv("layers", formatLayers(h.Layers))
	}
	// The recording host's zone offset is kept: parsed back on a host in
	// the same zone, the replayed times are in time.Local, as recorded.
	kv("start", h.Start.Format(time.RFC3339Nano))
	if h.Exit != nil {
		kv("exit", strconv.Itoa(*h.Exit))
	}
	return b.String()
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// formatStep renders one line of the steps file; runs counts run steps.
func formatStep(seq int, s Step, runs *int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%04d +%s %s", seq, s.At.Round(time.Microsecond), s.Kind)
	field := func(k, v string) {
		if v != "" {
			b.WriteString(" " + k + "=" + quoteValue(v))
		}
	}
	field("path", s.Path)
	field("arg", s.Arg)
	field("result", s.Result)
	field("err", s.Err)
	if c := s.Cmd; s.Kind == KindRun && c != nil {
		*runs++
		field("n", fmt.Sprintf("%03d", *runs))
		field("exit", strconv.Itoa(c.Exit))
		field("took", c.Took.Round(time.Microsecond).String())
		field("err", c.Err)
		if c.Truncated {
			b.WriteString(" truncated")
		}
		if c.Timeout {
			b.WriteString(" timeout")
		}
		// The command line for a reader; Parse stops at "::".
		b.WriteString(" :: " + oneLine(proc.Cmd{Argv: c.Argv}.String()))
	}
	return b.String()
}

// quoteValue leaves a plain value bare and Go-quotes anything else.
func quoteValue(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\r\n\"\\") || !strconv.CanBackquote(v) {
		return strconv.Quote(v)
	}
	return v
}

// formatArgv writes one argument per line, Go-quoted when it is empty,
// starts with a quote or holds a line break.
func formatArgv(argv []string) []byte {
	var b strings.Builder
	for _, a := range argv {
		if a == "" || strings.HasPrefix(a, `"`) || strings.ContainsAny(a, "\r\n") {
			a = strconv.Quote(a)
		}
		b.WriteString(a + "\n")
	}
	return []byte(b.String())
}

// blob stores data verbatim when txtar keeps it byte for byte, else as
// Go-quoted lines under name+".q".
func blob(name string, data []byte) txtar.File {
	if bytes.HasSuffix(data, []byte("\n")) && !hasMarkerLine(data) {
		return txtar.File{Name: name, Data: data}
	}
	var b bytes.Buffer
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n') + 1
		if i == 0 {
			i = len(data)
		}
		b.WriteString(strconv.Quote(string(data[:i])) + "\n")
		data = data[i:]
	}
	return txtar.File{Name: name + quotedSuffix, Data: b.Bytes()}
}

func hasMarkerLine(data []byte) bool {
	return bytes.HasPrefix(data, []byte("-- ")) || bytes.Contains(data, []byte("\n-- "))
}

func unblob(f txtar.File) (string, []byte, error) {
	name, quoted := strings.CutSuffix(f.Name, quotedSuffix)
	if !quoted {
		return name, f.Data, nil
	}
	var out []byte
	for _, line := range strings.Split(strings.TrimSuffix(string(f.Data), "\n"), "\n") {
		s, err := strconv.Unquote(line)
		if err != nil {
			return name, nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		out = append(out, s...)
	}
	return name, out, nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// oneLine escapes line breaks so a comment stays on its steps line.
func oneLine(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s)
}
