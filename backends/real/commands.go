package real

import (
	"strconv"
	"strings"

	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// The command builders below return the exact command lines the Backend
// runs. They run nothing, so a dry run can print them and the simulator's
// fidelity tests can compare its emulated tools against them.

// RealiseCmd is `nix-store --realise PATH [--add-root ROOT --indirect]
// [--option substituters "a b"] [--option trusted-public-keys "k1 k2"]`
// with Config.Env (Nix 2.8 syntax); gcRoot "" adds no root. Never
// `--option require-sigs false`.
//
// --add-root makes ROOT a symlink to PATH (parents created) and registers
// it as an indirect GC root, and nix-store then prints ROOT, not PATH
// (observed with Nix 2.8). --indirect is required by Nix <= 2.3 for a root
// outside /nix/var/nix/gcroots and accepted as a no-op since (nix-store.cc;
// observed accepted by Nix 2.8).
func (b *Backend) RealiseCmd(storePath, gcRoot string) proc.Cmd {
	argv := []string{b.cfg.NixStore, "--realise", storePath}
	if gcRoot != "" {
		argv = append(argv, "--add-root", gcRoot, "--indirect")
	}
	if len(b.cfg.Substituters) > 0 {
		argv = append(argv, "--option", "substituters", strings.Join(b.cfg.Substituters, " "))
	}
	if len(b.cfg.TrustedPublicKeys) > 0 {
		argv = append(argv, "--option", "trusted-public-keys", strings.Join(b.cfg.TrustedPublicKeys, " "))
	}
	return b.nixCmd(argv)
}

// DiagnoseRealiseCmd is RealiseCmd(storePath, "") with `--debug --option
// narinfo-cache-negative-ttl 0`: the same realise again, at the verbosity
// where Nix 2.3 to current print each download's HTTP status ("finished
// download of 'URL'; curl status = 0, HTTP status = 401", observed with
// Nix 2.8), without the disk cache's memory of paths a substituter lacked
// (an HTTP 401 is cached as "not there" too). Realise runs it after a
// failure that may hide a refused request.
func (b *Backend) DiagnoseRealiseCmd(storePath string) proc.Cmd {
	cmd := b.RealiseCmd(storePath, "")
	cmd.Argv = append(cmd.Argv, "--debug", "--option", "narinfo-cache-negative-ttl", "0")
	return cmd
}

// SetProfileCmd is `nix-env --profile PROFILE --set PATH` with Config.Env.
func (b *Backend) SetProfileCmd(profile, storePath string) proc.Cmd {
	return b.nixCmd([]string{b.cfg.NixEnv, "--profile", profile, "--set", storePath})
}

// RollbackCmd is `nix-env --profile PROFILE --rollback` with Config.Env.
func (b *Backend) RollbackCmd(profile string) proc.Cmd {
	return b.nixCmd([]string{b.cfg.NixEnv, "--profile", profile, "--rollback"})
}

// SwitchGenerationCmd is `nix-env --profile PROFILE --switch-generation N`
// with Config.Env (Nix 2.8 syntax).
func (b *Backend) SwitchGenerationCmd(profile string, generation int) proc.Cmd {
	return b.nixCmd([]string{b.cfg.NixEnv, "--profile", profile, "--switch-generation", strconv.Itoa(generation)})
}

// ListGenerationsCmd is `nix-env --profile PROFILE --list-generations` with
// Config.Env.
func (b *Backend) ListGenerationsCmd(profile string) proc.Cmd {
	return b.nixCmd([]string{b.cfg.NixEnv, "--profile", profile, "--list-generations"})
}

func (b *Backend) nixCmd(argv []string) proc.Cmd {
	return proc.Cmd{Argv: argv, Env: append([]string(nil), b.cfg.Env...)}
}

// UnitShowProperties are the properties UnitStatusCmd asks systemctl show
// for, in the order they are requested (systemd prints them in its own order).
var UnitShowProperties = []string{
	"LoadState", "ActiveState", "SubState", "Result",
	"ExecMainCode", "ExecMainStatus", "ExecMainPID",
}

// UnitStatusCmd is `systemctl show --property=LoadState,ActiveState,SubState,
// Result,ExecMainCode,ExecMainStatus,ExecMainPID -- UNIT.service` (systemd 252).
//
// GOTCHA: `--` ends systemctl's options (getopt_long in systemd 252), so a
// unit name can never be read as one: without it `systemctl show
// -foo.service` is parsed as options ("Unknown output 'o.service'", observed
// with systemd 252). The unit names are also validated when flags are
// parsed (ValidateUnitName).
func (b *Backend) UnitStatusCmd(unit string) proc.Cmd {
	return proc.Cmd{Argv: []string{b.cfg.Systemctl, "show",
		"--property=" + strings.Join(UnitShowProperties, ","), "--", serviceName(unit)}}
}

// StopCmd is `systemctl stop -- UNIT.service`.
func (b *Backend) StopCmd(unit string) proc.Cmd {
	return proc.Cmd{Argv: []string{b.cfg.Systemctl, "stop", "--", serviceName(unit)}}
}

// ResetFailedCmd is `systemctl reset-failed -- UNIT.service`.
func (b *Backend) ResetFailedCmd(unit string) proc.Cmd {
	return proc.Cmd{Argv: []string{b.cfg.Systemctl, "reset-failed", "--", serviceName(unit)}}
}

// RunCmd is the systemd-run command line that starts switch-to-configuration
// in a transient service (systemd 252 syntax):
//
//	systemd-run --unit=UNIT --description=TEXT --remain-after-exit
//	  --service-type=exec --no-ask-password --
//	  CLOSURE/bin/switch-to-configuration ACTION
//
// --remain-after-exit keeps the unit loaded after its process ends, so its
// ExecMainStatus stays readable; --collect is deliberately absent (systemd
// 252 unloads a collected unit at once and show then prints 0).
// --service-type=exec makes systemd-run itself fail when the binary cannot
// be executed.
//
// GOTCHA: systemd-run expands `$` in the command and its arguments (write
// `$$` for a literal one; --expand-environment=no only exists from systemd
// 254). Fire refuses a closure containing `$`; store paths never do.
func (b *Backend) RunCmd(req pipeline.FireRequest) proc.Cmd {
	return proc.Cmd{Argv: []string{b.cfg.SystemdRun,
		"--unit=" + req.Unit,
		"--description=" + fireDescription(req),
		"--remain-after-exit",
		"--service-type=exec",
		"--no-ask-password",
		"--",
		SwitchProgram(req.Closure), string(req.Action),
	}}
}

// SwitchProgram is the closure's own activation binary,
// CLOSURE/bin/switch-to-configuration.
func SwitchProgram(closure string) string {
	return strings.TrimRight(closure, "/") + "/bin/switch-to-configuration"
}

func fireDescription(req pipeline.FireRequest) string {
	return "nixfleet-activate: switch-to-configuration " + string(req.Action) + " of " + req.Closure
}

func serviceName(unit string) string {
	return unit + ".service"
}
