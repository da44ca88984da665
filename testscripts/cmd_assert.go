package testscripts

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
)

// assertCommands check the last outcome and the host's state, or print it
// for `stdout` and `cmp`.
func assertCommands() []command {
	return []command{
		{name: "outcome", usage: "outcome KIND [FIELD=VALUE|FIELD!=VALUE|FIELD=~REGEXP...]",
			summary: "checks the last outcome's kind and JSON fields: nested fields with dots (switch.exit_code, list items by index: lock_holders.0.kind), null for an unknown exit status, an empty VALUE for an absent field, lists comma-joined (components=kernel,initrd); FIELD!=VALUE demands any other value (FIELD!= : that the field is present); on failure prints the whole JSON",
			run:     runOutcome},
		{name: "link", usage: "link PATH ALIAS|missing|TARGET",
			summary: "checks where a link (/run/current-system, /run/booted-system) points: at the closure ALIAS, nowhere (missing), or at the raw TARGET",
			run:     runLink},
		{name: "profile-is", usage: "profile-is ALIAS|missing [gen=N]",
			summary: "checks the closure the system profile resolves to (through system-N-link) and its current generation number",
			run:     runProfileIs},
		{name: "generations", prints: true, usage: "generations",
			summary: "prints the system profile's generations to stdout, one `N ALIAS` a line, `(current)` marked",
			run:     runGenerations},
		{name: "boot-default", usage: "boot-default ALIAS|none",
			summary: "checks the closure the bootloader boots next (set by a switch, or by a boot action that exited 0)",
			run:     runBootDefault},
		{name: "unit", usage: "unit NAME [load=S] [active=S] [sub=S] [result=S] [code=N] [status=N]",
			summary: "checks a transient unit as systemctl show would report it: LoadState, ActiveState, SubState, Result, ExecMainCode (1 exited, 2 killed, 3 dumped), ExecMainStatus",
			run:     runUnit},
		{name: "commands", prints: true, usage: "commands [last]",
			summary: "prints the host's ordered command log to stdout, `+TIME ARGV => EXIT` a line, store paths shown as /nix/store/<ALIAS>; last: only the commands of the last activate, rollback or recover",
			run:     runCommandLog},
		{name: "runs", prints: true, usage: "runs",
			summary: "prints every transient unit start to stdout: unit, closure whose switch-to-configuration ran, action, start, and how it ended",
			run:     runRuns},
		{name: "ran-switch-of", usage: "[!] ran-switch-of ALIAS [action=switch|boot] [unit=NAME]",
			summary:   "checks that a unit ran the closure's own bin/switch-to-configuration (with !: that none did)",
			negatable: true, run: runRanSwitchOf},
		{name: "valid", usage: "[!] valid ALIAS",
			summary:   "checks that the closure is valid in the local store (with !: that it is not, e.g. never realised or garbage-collected)",
			negatable: true, run: runValid},
		{name: "elapsed", usage: "elapsed DURATION|MIN..MAX",
			summary: "checks the virtual time since the host was created",
			run:     runElapsed},
	}
}

func (s *script) lastOutcome() (*lastRun, error) {
	if s.w.last == nil {
		return nil, fmt.Errorf("no activate, rollback or recover has run yet")
	}
	return s.w.last, nil
}

func runOutcome(s *script, _ bool, args []string) error {
	if len(args) == 0 {
		return usagef("want KIND [FIELD=VALUE...]")
	}
	last, err := s.lastOutcome()
	if err != nil {
		return err
	}
	switch {
	case last.killed != "":
		return fmt.Errorf("the last run printed no outcome: the agent was killed %s", last.killed)
	case last.fields == nil:
		return fmt.Errorf("the last run printed no outcome: recover found no unfinished run")
	}
	var problems []string
	if got := render(last.fields["outcome"]); got != args[0] {
		problems = append(problems, fmt.Sprintf("outcome is %q, want %q", got, args[0]))
	}
	for _, a := range args[1:] {
		if msg, err := checkField(last.fields, a); err != nil {
			return err
		} else if msg != "" {
			problems = append(problems, msg)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s\n--- outcome ---\n%s", strings.Join(problems, "\n"), s.w.readable(string(last.json)))
	}
	return nil
}

// checkField checks one FIELD=VALUE or FIELD=~REGEXP; "" when it holds.
func checkField(fields map[string]any, arg string) (string, error) {
	key, want, ok := strings.Cut(arg, "=")
	key, negated := strings.CutSuffix(key, "!")
	if !ok || key == "" {
		return "", usagef("%q: want FIELD=VALUE, FIELD!=VALUE or FIELD=~REGEXP", arg)
	}
	got := render(lookupField(fields, key))
	if negated {
		if got == want {
			return fmt.Sprintf("%s is %q, want anything else", key, got), nil
		}
		return "", nil
	}
	if pattern, isRE := strings.CutPrefix(want, "~"); isRE {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return "", fmt.Errorf("%s: %w", key, err)
		}
		if !re.MatchString(got) {
			return fmt.Sprintf("%s is %q, want a match of %q", key, got, pattern), nil
		}
		return "", nil
	}
	if got != want {
		return fmt.Sprintf("%s is %q, want %q", key, got, want), nil
	}
	return "", nil
}

// absent marks a field the JSON does not have.
type absent struct{}

// lookupField follows a dotted path through decoded JSON objects.
func lookupField(fields map[string]any, key string) any {
	var cur any = fields
	for _, part := range strings.Split(key, ".") {
		if list, ok := cur.([]any); ok {
			// A number indexes a list (lock_holders.0.kind).
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(list) {
				return absent{}
			}
			cur = list[i]
			continue
		}
		obj, ok := cur.(map[string]any)
		if !ok {
			return absent{}
		}
		if cur, ok = obj[part]; !ok {
			return absent{}
		}
	}
	return cur
}

// render shows a decoded JSON value as a script writes it: strings bare,
// null as null, absent as "", lists comma-joined, objects as JSON.
func render(v any) string {
	switch v := v.(type) {
	case absent:
		return ""
	case nil:
		return "null"
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = render(x)
		}
		return strings.Join(parts, ",")
	}
	js, _ := json.Marshal(v)
	return string(js)
}

func runLink(s *script, _ bool, args []string) error {
	if len(args) != 2 {
		return usagef("want PATH ALIAS|missing|TARGET")
	}
	target, err := s.w.host().FS().Readlink(args[0])
	if err != nil {
		target = ""
	}
	want := args[1]
	if !strings.HasPrefix(want, "/") && want != "missing" {
		base, err := s.w.basename(want)
		if err != nil {
			return err
		}
		want = sim.StoreDir + "/" + base
	}
	if got := s.w.storeAlias(target); target != want && !(want == "missing" && target == "") {
		return fmt.Errorf("%s points at %s, want %s", args[0], got, args[1])
	}
	return nil
}

func runProfileIs(s *script, _ bool, args []string) error {
	p, err := argSpec{"gen="}.parseN(args, 1, "ALIAS|missing")
	if err != nil {
		return err
	}
	h := s.w.host()
	got := s.w.alias(h.ProfileTarget())
	if h.ProfileTarget() == "" {
		got = "missing"
	} else if got == "" {
		got = h.ProfileTarget()
	}
	if got != p.pos[0] {
		return fmt.Errorf("the profile resolves to %s, want %s", got, p.pos[0])
	}
	if _, ok := p.opts["gen"]; ok {
		want, err := p.integer("gen", 0)
		if err != nil {
			return err
		}
		if gen := h.ProfileGeneration(); gen != want {
			return fmt.Errorf("the profile is at generation %d, want %d", gen, want)
		}
	}
	return nil
}

func runGenerations(s *script, _ bool, args []string) error {
	if len(args) != 0 {
		return usagef("takes no arguments")
	}
	for _, g := range s.w.host().Profile() {
		mark := ""
		if g.Current {
			mark = " (current)"
		}
		fmt.Fprintf(s.ts.Stdout(), "%d %s%s\n", g.Number, s.w.storeAlias(g.Target), mark)
	}
	return nil
}

func runBootDefault(s *script, _ bool, args []string) error {
	if len(args) != 1 {
		return usagef("want ALIAS|none")
	}
	got := "none"
	if base := s.w.host().BootDefault(); base != "" {
		got = s.w.storeAlias(sim.StoreDir + "/" + base)
	}
	if got != args[0] {
		return fmt.Errorf("the boot default is %s, want %s", got, args[0])
	}
	return nil
}

func runUnit(s *script, _ bool, args []string) error {
	p, err := argSpec{"load=", "active=", "sub=", "result=", "code=", "status="}.parseN(args, 1, "NAME")
	if err != nil {
		return err
	}
	u := s.w.host().Unit(p.pos[0])
	got := map[string]string{"load": u.LoadState, "active": u.ActiveState, "sub": u.SubState, "result": u.Result,
		"code": strconv.Itoa(u.ExecMainCode), "status": strconv.Itoa(u.ExecMainStatus)}
	var problems []string
	for _, k := range []string{"load", "active", "sub", "result", "code", "status"} {
		if want, ok := p.opts[k]; ok && got[k] != want {
			problems = append(problems, fmt.Sprintf("%s=%s, want %s", k, got[k], want))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("unit %s: %s", u.Name, strings.Join(problems, ", "))
	}
	return nil
}

func runCommandLog(s *script, _ bool, args []string) error {
	log := s.w.host().Log()
	switch {
	case len(args) == 1 && args[0] == "last":
		last, err := s.lastOutcome()
		if err != nil {
			return err
		}
		log = log[last.logStart:]
	case len(args) != 0:
		return usagef("want no argument or last")
	}
	for _, e := range log {
		fmt.Fprintln(s.ts.Stdout(), s.w.readable(e.String()))
	}
	return nil
}

func runRuns(s *script, _ bool, args []string) error {
	if len(args) != 0 {
		return usagef("takes no arguments")
	}
	for _, r := range s.w.host().Runs() {
		end := "running"
		if r.Exited {
			end = fmt.Sprintf("ended +%s code=%d status=%d", r.ExitedAt, r.ExecMainCode, r.ExecMainStatus)
		}
		closure := s.w.storeAlias(sim.StoreDir + "/" + r.Closure)
		if r.Closure == "" {
			closure = strings.Join(r.Argv, " ")
		}
		fmt.Fprintf(s.ts.Stdout(), "%s %s %s started +%s %s\n", r.Unit, closure, r.Action, r.StartedAt, end)
	}
	return nil
}

func runRanSwitchOf(s *script, neg bool, args []string) error {
	p, err := argSpec{"action=", "unit="}.parseN(args, 1, "ALIAS")
	if err != nil {
		return err
	}
	base, err := s.w.basename(p.pos[0])
	if err != nil {
		return err
	}
	unit := p.opts["unit"]
	if unit != "" && !strings.HasSuffix(unit, ".service") {
		unit += ".service"
	}
	found := false
	for _, r := range s.w.host().Runs() {
		if r.Closure == base && (p.opts["action"] == "" || r.Action == p.opts["action"]) && (unit == "" || r.Unit == unit) {
			found = true
		}
	}
	switch {
	case found && neg:
		return fmt.Errorf("a unit ran %s's switch-to-configuration", p.pos[0])
	case !found && !neg:
		return fmt.Errorf("no unit ran %s's switch-to-configuration %s", p.pos[0], p.opts["action"])
	}
	return nil
}

func runValid(s *script, neg bool, args []string) error {
	if len(args) != 1 {
		return usagef("want ALIAS")
	}
	base, err := s.w.basename(args[0])
	if err != nil {
		return err
	}
	switch valid := s.w.host().IsValid(base); {
	case valid && neg:
		return fmt.Errorf("%s is valid in the store", args[0])
	case !valid && !neg:
		return fmt.Errorf("%s is not valid in the store", args[0])
	}
	return nil
}

func runElapsed(s *script, _ bool, args []string) error {
	if len(args) != 1 {
		return usagef("want DURATION or MIN..MAX")
	}
	lo, hi, err := durationRange(args[0])
	if err != nil {
		return err
	}
	if got := s.w.host().Elapsed(); got < lo || got > hi {
		return fmt.Errorf("virtual time is %s, want %s", got, args[0])
	}
	return nil
}
