package plan

import (
	"context"
	"fmt"
	"io/fs"
	"os/exec"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// unit is a transient unit the plan started: running until the next wait,
// then exited 0 (systemd-run --remain-after-exit keeps it loaded).
type unit struct{ exited bool }

// Run implements proc.Runner: it records cmd and answers it as the tool
// would in a run where every step succeeds (see the package doc). Errors:
// ctx's error (nothing recorded), an error wrapping exec.ErrNotFound for a
// program the real backend does not run, errNotPlanned for a command line
// of a known program that a successful run does not issue.
func (h *Host) Run(ctx context.Context, cmd proc.Cmd) (proc.Result, error) {
	if len(cmd.Argv) == 0 {
		return proc.Result{}, fmt.Errorf("plan: empty argv")
	}
	if err := ctx.Err(); err != nil {
		return proc.Result{}, err
	}
	h.steps = append(h.steps, Step{Kind: KindCommand, Argv: append([]string(nil), cmd.Argv...)})
	args := cmd.Argv[1:]
	switch path.Base(cmd.Argv[0]) {
	case "nix-store":
		return h.nixStore(args)
	case "nix-env":
		return h.nixEnv(args)
	case "systemd-run":
		return h.systemdRun(args)
	case "systemctl":
		return h.systemctl(args)
	case "journalctl":
		return proc.Result{}, nil // a check's output: none
	}
	return proc.Result{}, &exec.Error{Name: cmd.Argv[0], Err: exec.ErrNotFound}
}

// optValue returns the argument after flag, "" when absent.
func optValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

func out(stdout, stderr string) proc.Result {
	return proc.Result{Stdout: []byte(stdout), Stderr: []byte(stderr)}
}

// nixStore answers `nix-store --realise PATH [--add-root ROOT --indirect]`
// as Nix 2.8 does: PATH made valid, ROOT a link to it, ROOT printed (PATH
// without a root).
func (h *Host) nixStore(args []string) (proc.Result, error) {
	storePath := optValue(args, "--realise")
	if storePath == "" || slices.Contains(args, "--debug") {
		return proc.Result{}, notPlanned(append([]string{"nix-store"}, args...))
	}
	root := optValue(args, "--add-root")
	err := h.quietly(func() error {
		if err := h.ensureClosure(storePath); err != nil {
			return err
		}
		if root == "" {
			return nil
		}
		if err := h.view.MkdirAll(path.Dir(root), 0o755); err != nil {
			return err
		}
		return h.view.ReplaceLink(storePath, root)
	})
	if err != nil {
		return proc.Result{}, fmt.Errorf("plan: realising %s: %w", storePath, err)
	}
	printed := storePath
	if root != "" {
		printed = root
	}
	return out(printed+"\n", ""), nil
}

// ensureClosure makes an assumed NixOS system closure at storePath when
// the store does not have it: an executable bin/switch-to-configuration
// and current-system's critical component links (the kernel another one
// with Config.AssumeKernelChange).
func (h *Host) ensureClosure(storePath string) error {
	if _, err := h.view.Lstat(storePath); err == nil {
		return nil
	}
	if err := h.view.MkdirAll(path.Join(storePath, "bin"), 0o555); err != nil {
		return err
	}
	if err := h.view.WriteFile(path.Join(storePath, pipeline.SwitchProgramRel), []byte("#!assumed by the plan\n"), 0o555); err != nil {
		return err
	}
	current, _ := h.view.EvalSymlinks(h.cfg.CurrentSystem)
	for _, c := range pipeline.CriticalComponents {
		target := h.componentTarget(c, current)
		if h.cfg.AssumeKernelChange && c.Name == "kernel" {
			target = path.Join(storePath, "assumed-new-kernel")
			if err := h.view.WriteFile(target, nil, 0o444); err != nil {
				return err
			}
		}
		if target == "" {
			continue
		}
		link := path.Join(storePath, c.Paths[0])
		if err := h.view.MkdirAll(path.Dir(link), 0o555); err != nil {
			return err
		}
		if err := h.view.Symlink(target, link); err != nil {
			return err
		}
	}
	return nil
}

// componentTarget is what c's first existing path in the closure current
// resolves to, "" when it has none.
func (h *Host) componentTarget(c pipeline.Component, current string) string {
	if current == "" {
		return ""
	}
	for _, p := range c.Paths {
		if target, err := h.view.EvalSymlinks(path.Join(current, p)); err == nil {
			return target
		}
	}
	return ""
}

// nixEnv answers `nix-env --profile P --set PATH` (a new generation
// max+1, Nix 2.8's link layout: P -> P-N-link relative, P-N-link -> PATH)
// and `nix-env --profile P --switch-generation N`.
func (h *Host) nixEnv(args []string) (proc.Result, error) {
	profile := optValue(args, "--profile")
	switch {
	case profile != "" && optValue(args, "--set") != "":
		target := optValue(args, "--set")
		return proc.Result{}, h.quietly(func() error {
			n := h.lastGeneration(profile) + 1
			gen := generationName(profile, n)
			if err := h.view.MkdirAll(path.Dir(profile), 0o755); err != nil {
				return err
			}
			if err := h.view.ReplaceLink(target, path.Join(path.Dir(profile), gen)); err != nil {
				return err
			}
			return h.view.ReplaceLink(gen, profile)
		})
	case profile != "" && optValue(args, "--switch-generation") != "":
		n, err := strconv.Atoi(optValue(args, "--switch-generation"))
		if err != nil {
			return proc.Result{}, notPlanned(append([]string{"nix-env"}, args...))
		}
		from := h.currentGeneration(profile)
		err = h.quietly(func() error { return h.view.ReplaceLink(generationName(profile, n), profile) })
		return out("", fmt.Sprintf("switching profile from version %d to %d\n", from, n)), err
	}
	return proc.Result{}, notPlanned(append([]string{"nix-env"}, args...))
}

func generationName(profile string, n int) string {
	return path.Base(profile) + "-" + strconv.Itoa(n) + "-link"
}

// generationNumber returns N of a "<profile>-N-link" entry.
func generationNumber(profile, entry string) (int, bool) {
	rest, ok := strings.CutPrefix(entry, path.Base(profile)+"-")
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(rest, "-link")
	n, err := strconv.Atoi(digits)
	return n, ok && err == nil && n > 0
}

func (h *Host) lastGeneration(profile string) int {
	entries, _ := h.view.ReadDir(path.Dir(profile))
	last := 0
	for _, e := range entries {
		if n, ok := generationNumber(profile, e.Name()); ok && e.Type()&fs.ModeSymlink != 0 {
			last = max(last, n)
		}
	}
	return last
}

func (h *Host) currentGeneration(profile string) int {
	target, _ := h.view.Readlink(profile)
	n, _ := generationNumber(profile, path.Base(target))
	return n
}

// systemdRun answers `systemd-run --unit=U ... -- PROGRAM ARGS`: the unit
// runs until the next wait, where a switch-to-configuration switch flips
// current-system to its closure and the unit exits 0.
func (h *Host) systemdRun(args []string) (proc.Result, error) {
	name, program, progArgs := "", "", []string(nil)
	for i, a := range args {
		if u, ok := strings.CutPrefix(a, "--unit="); ok {
			name = u + ".service"
		}
		if a == "--" && i+1 < len(args) {
			program, progArgs = args[i+1], args[i+2:]
			break
		}
	}
	if name == ".service" || name == "" || program == "" {
		return proc.Result{}, notPlanned(append([]string{"systemd-run"}, args...))
	}
	u := &unit{}
	h.units[name] = u
	flip := ""
	if path.Base(program) == "switch-to-configuration" && len(progArgs) > 0 && progArgs[0] == string(pipeline.ActionSwitch) {
		flip = path.Dir(path.Dir(program))
	}
	h.clk.Schedule(0, func() { h.finish(name, u, flip) })
	return out("", "Running as unit: "+name+"\n"), nil
}

// finish ends a fired unit: the flip first (a switch flips, then exits).
func (h *Host) finish(name string, u *unit, closure string) {
	// LOADBEARING: flip before the exit, as switch-to-configuration does: a poll that sees the unit exited reads the link next and must see the flip.
	if closure != "" {
		_ = h.quietly(func() error { return h.view.ReplaceLink(closure, h.cfg.CurrentSystem) })
		if h.events != nil {
			h.events.Changed(path.Clean(h.cfg.CurrentSystem))
		}
	}
	u.exited = true
	if h.events != nil {
		h.events.UnitEnded(strings.TrimSuffix(name, ".service"))
	}
}

// systemctl answers show, stop, reset-failed, list-units --state=failed
// (none) and is-system-running ("running") as systemd 252 would.
func (h *Host) systemctl(args []string) (proc.Result, error) {
	verb, units := "", []string(nil)
	for i, a := range args {
		if a == "--" {
			units = args[i+1:]
			break
		}
		if !strings.HasPrefix(a, "-") && verb == "" {
			verb = a
		}
	}
	switch {
	case verb == "show" && len(units) == 1:
		return out(h.show(units[0]), ""), nil
	case (verb == "stop" || verb == "reset-failed") && len(units) > 0:
		for _, u := range units {
			delete(h.units, u)
		}
		return proc.Result{}, nil
	case verb == "list-units":
		return proc.Result{}, nil
	case verb == "is-system-running":
		return out("running\n", ""), nil
	}
	return proc.Result{}, notPlanned(append([]string{"systemctl"}, args...))
}

// show prints the properties UnitStatusCmd asks for: a unit the plan did
// not start is not loaded (systemd 252 prints not-found and zeros).
func (h *Host) show(name string) string {
	u, ok := h.units[name]
	switch {
	case !ok:
		return "LoadState=not-found\nActiveState=inactive\nSubState=dead\nResult=success\nExecMainCode=0\nExecMainStatus=0\nExecMainPID=0\n"
	case !u.exited:
		return "LoadState=loaded\nActiveState=active\nSubState=running\nResult=success\nExecMainCode=0\nExecMainStatus=0\nExecMainPID=4242\n"
	}
	return "LoadState=loaded\nActiveState=active\nSubState=exited\nResult=success\nExecMainCode=1\nExecMainStatus=0\nExecMainPID=0\n"
}
