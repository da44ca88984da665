package transcript

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/txtar"
)

// Parse reads a transcript written by Format. Errors name the line or file
// that is malformed.
func Parse(data []byte) (*Transcript, error) {
	a := txtar.Parse(data)
	t := &Transcript{}
	if err := parseHeader(string(a.Comment), &t.Header); err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for _, f := range a.Files {
		name, content, err := unblob(f)
		if err != nil {
			return nil, err
		}
		files[name] = content
	}
	if err := parseFiles(files, t); err != nil {
		return nil, err
	}
	return t, nil
}

func parseHeader(comment string, h *Header) error {
	sc := bufio.NewScanner(strings.NewReader(comment))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			k, v = strings.TrimSuffix(line, ":"), ""
		}
		if err := headerField(h, k, v); err != nil {
			return fmt.Errorf("transcript header %q: %w", line, err)
		}
	}
	return nil
}

func headerField(h *Header, k, v string) error {
	var err error
	switch k {
	case "version":
		if v != strconv.Itoa(Version) {
			return fmt.Errorf("version %s, this reader knows %d", v, Version)
		}
	case "tool":
		h.Tool = v
	case "command":
		h.Command = v
	case "closure":
		h.Target.Closure = v
	case "state-dir":
		h.StateDir = v
	case "uid":
		h.UID, err = strconv.Atoi(v)
	case "events":
		h.Events = v == "on"
	case "layers":
		h.Layers, err = parseLayers(v)
	case "start":
		h.Start, err = time.Parse(time.RFC3339Nano, v)
	case "exit":
		var n int
		n, err = strconv.Atoi(v)
		h.Exit = &n
	default:
		return fmt.Errorf("unknown key %q", k)
	}
	return err
}

func parseFiles(files map[string][]byte, t *Transcript) error {
	t.Outcome = json.RawMessage(strings.TrimSpace(string(files[fileOutcome])))
	if len(t.Outcome) == 0 {
		t.Outcome = json.RawMessage("null")
	}
	t.Error = strings.TrimSuffix(string(files[fileError]), "\n")
	if n := strings.TrimSpace(string(files[fileNotes])); n != "" {
		t.Notes = strings.Split(n, "\n")
	}
	for name, dst := range map[string]any{fileOptions: &t.Header.Options, fileBackend: &t.Header.Backend, fileMeta: &t.Header.Target.Meta} {
		if data, ok := files[name]; ok {
			if err := json.Unmarshal(data, dst); err != nil {
				return fmt.Errorf("transcript %s: %w", name, err)
			}
		}
	}
	return parseSteps(files, t)
}

func parseSteps(files map[string][]byte, t *Transcript) error {
	text := strings.TrimSuffix(string(files[fileSteps]), "\n")
	if text == "" {
		return nil
	}
	for i, line := range strings.Split(text, "\n") {
		s, n, err := parseStep(line)
		if err != nil {
			return fmt.Errorf("transcript steps line %d: %w", i+1, err)
		}
		if s.Kind == KindRun {
			s.Cmd.Argv = parseArgv(files[runFile(n, "argv")])
			s.Cmd.Stdout, s.Cmd.Stderr = files[runFile(n, "stdout")], files[runFile(n, "stderr")]
		} else {
			s.Data = files[dataFile(i+1)]
		}
		t.Steps = append(t.Steps, s)
	}
	return nil
}

// parseStep reads "SEQ +AT KIND key=value ... [:: comment]"; n is a run
// step's command number.
func parseStep(line string) (Step, int, error) {
	toks, err := tokens(line)
	if err != nil {
		return Step{}, 0, err
	}
	if len(toks) < 3 {
		return Step{}, 0, fmt.Errorf("want SEQ +AT KIND, got %q", line)
	}
	s := Step{Kind: Kind(toks[2])}
	if s.At, err = time.ParseDuration(strings.TrimPrefix(toks[1], "+")); err != nil {
		return s, 0, err
	}
	if s.Kind == KindRun {
		s.Cmd = &Command{}
	}
	n := 0
	for _, tok := range toks[3:] {
		if err := stepField(&s, &n, tok); err != nil {
			return s, 0, fmt.Errorf("%q: %w", tok, err)
		}
	}
	return s, n, nil
}

func stepField(s *Step, n *int, tok string) error {
	k, v, _ := strings.Cut(tok, "=")
	var err error
	switch k {
	case "path":
		s.Path = v
	case "arg":
		s.Arg = v
	case "result":
		s.Result = v
	case "err":
		if s.Cmd != nil {
			s.Cmd.Err = v
		} else {
			s.Err = v
		}
	case "n":
		*n, err = strconv.Atoi(v)
	case "exit":
		s.Cmd.Exit, err = strconv.Atoi(v)
	case "took":
		s.Cmd.Took, err = time.ParseDuration(v)
	case "truncated":
		s.Cmd.Truncated = true
	case "timeout":
		s.Cmd.Timeout = true
	default:
		return fmt.Errorf("unknown field %q", k)
	}
	return err
}

// tokens splits a steps line at spaces; a value starting with a double
// quote is a Go-quoted string; "::" ends the line (a reader's comment).
func tokens(line string) ([]string, error) {
	var toks []string
	for rest := strings.TrimSpace(line); rest != ""; rest = strings.TrimLeft(rest, " ") {
		if rest == "::" || strings.HasPrefix(rest, ":: ") {
			break
		}
		end := strings.IndexByte(rest, ' ')
		if end < 0 {
			end = len(rest)
		}
		tok := rest[:end]
		if k, v, ok := strings.Cut(tok, "="); ok && strings.HasPrefix(v, `"`) {
			q, err := strconv.QuotedPrefix(rest[len(k)+1:])
			if err != nil {
				return nil, err
			}
			uq, _ := strconv.Unquote(q)
			tok, end = k+"="+uq, len(k)+1+len(q)
		}
		toks = append(toks, tok)
		rest = rest[end:]
	}
	return toks, nil
}

func parseArgv(data []byte) []string {
	text := strings.TrimSuffix(string(data), "\n")
	if text == "" {
		return nil
	}
	var argv []string
	for _, a := range strings.Split(text, "\n") {
		if strings.HasPrefix(a, `"`) {
			if uq, err := strconv.Unquote(a); err == nil {
				a = uq
			}
		}
		argv = append(argv, a)
	}
	return argv
}
