package sim

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/nixfleet/nixfleet-activate/proc"
)

// nixEnvOps are nix-env 2.8's operation flags; set, rollback,
// switch-generation and list-generations are emulated.
var nixEnvOps = map[string]string{
	"--set": "set", "--rollback": "rollback", "--switch-generation": "switch-generation",
	"-G": "switch-generation", "--list-generations": "list-generations",
	"--delete-generations": "delete-generations", "--install": "install", "-i": "install",
	"--upgrade": "upgrade", "-u": "upgrade", "--uninstall": "uninstall", "-e": "uninstall",
	"--query": "query", "-q": "query", "--switch-profile": "switch-profile", "-S": "switch-profile",
	"--set-flag": "set-flag",
}

// nixEnv emulates nix-env 2.8 (observed) with --profile P and one of:
//
//	--set PATH             realise PATH if needed (its fetch lines on
//	                       stderr), new generation max+1 (or the highest
//	                       one when it already points at PATH), profile
//	                       re-pointed; exit 0
//	--rollback             "switching profile from version N to M" (stderr);
//	                       "error: no profile version older than the
//	                       current (N) exists", exit 1
//	--switch-generation N  same line; "error: profile version N does not
//	                       exist", exit 1
//	--list-generations     "%4d   DATE TIME   (current)" lines on stdout
//
// Usage errors ("no operation specified", "unknown flag 'X'", "no arguments
// expected", "expected a generation number", "'--profile' requires an
// argument") print the help hint and exit 1.
func (h *Host) nixEnv(cmd proc.Cmd) (proc.Result, error) {
	a, usage := h.parseNixEnv(cmd)
	if usage != "" {
		return h.usageError("nix-env", usage), nil
	}
	if a.profile == "" {
		return proc.Result{}, fmt.Errorf("%w: nix-env without --profile", ErrNotEmulated)
	}
	switch a.op {
	case "set":
		return h.nixEnvSet(a), nil
	case "rollback", "list-generations":
		if len(a.unknown) > 0 {
			return h.usageError("nix-env", fmt.Sprintf("unknown flag '%s'", a.unknown[0])), nil
		}
		if len(a.operands) > 0 {
			return h.usageError("nix-env", "no arguments expected"), nil
		}
		if a.op == "rollback" {
			return h.nixEnvSwitch(a.profile, 0), nil
		}
		return h.nixEnvList(a.profile), nil
	case "switch-generation":
		if len(a.unknown) > 0 {
			return h.usageError("nix-env", fmt.Sprintf("unknown flag '%s'", a.unknown[0])), nil
		}
		n, err := strconv.ParseUint(a.opArg, 10, 31)
		if err != nil {
			return h.usageError("nix-env", "expected a generation number"), nil
		}
		return h.nixEnvSwitch(a.profile, int(n)), nil
	}
	return proc.Result{}, fmt.Errorf("%w: nix-env %s", ErrNotEmulated, a.op)
}

// parseNixEnv is nix-env 2.8's first pass: the operation, --profile and
// --option are taken; other flags and operands go to the operation.
func (h *Host) parseNixEnv(cmd proc.Cmd) (nixArgs, string) {
	a := nixArgs{settings: h.settingsFor(cmd.Env)}
	args := cmd.Argv[1:]
	dashDash := false
	for i := 0; i < len(args); i++ {
		arg := args[i]
		op := nixEnvOps[arg]
		switch {
		case arg == "--" && !dashDash:
			// Nix 2.8's Args::parseCmdline consumes the first "--"; the
			// arguments after it still reach nix-env's own callback, which
			// takes "-x" as a flag (observed: "unknown flag '-x'").
			dashDash = true
		case op != "":
			if a.op != "" && a.op != op {
				return a, "only one operation may be specified"
			}
			a.op = op
			if op == "switch-generation" {
				if i+1 >= len(args) {
					return a, fmt.Sprintf("'%s' requires an argument", arg)
				}
				i++
				a.opArg = args[i]
			}
		case arg == "--profile" || arg == "-p":
			if i+1 >= len(args) {
				return a, fmt.Sprintf("'%s' requires an argument", arg)
			}
			i++
			a.profile = path.Clean(path.Join("/", args[i]))
		case arg == "--option":
			if i+2 >= len(args) {
				return a, "flag '--option' requires 2 argument(s)"
			}
			a.settings.apply(args[i+1], args[i+2])
			i += 2
		case strings.HasPrefix(arg, "-") && arg != "-":
			a.unknown = append(a.unknown, arg)
		default:
			a.operands = append(a.operands, arg)
		}
	}
	if a.op == "" {
		return a, "no operation specified"
	}
	return a, ""
}

// nixEnvSet is `nix-env --profile P --set PATH` (Nix 2.8, observed).
func (h *Host) nixEnvSet(a nixArgs) proc.Result {
	if len(a.unknown) > 0 {
		return h.usageError("nix-env", fmt.Sprintf("unknown flag '%s'", a.unknown[0]))
	}
	var bases []string
	for _, arg := range a.operands {
		sp := parseStorePathArg(arg, h.exists)
		if sp.errLine != "" {
			return result(1, "", sp.errLine)
		}
		bases = append(bases, sp.basename)
	}
	if len(bases) != 1 {
		return result(1, "", "error: --set requires exactly one derivation")
	}
	base := bases[0]
	var stderr []string
	if !h.valid[base] {
		sub := h.substitute(base, a.settings, false)
		h.extraCost += sub.took
		stderr = sub.stderr
		if sub.abort {
			return result(1, "", strings.Join(stderr, "\n"))
		}
		if !sub.ok {
			return result(1, "", strings.Join(append(stderr, h.phrase.BuildFailed(storePath(base))), "\n"))
		}
	}
	if !h.isDir(path.Dir(a.profile)) {
		stderr = append(stderr, fmt.Sprintf("error: opening directory '%s': No such file or directory", path.Dir(a.profile)))
		return result(1, "", strings.Join(stderr, "\n"))
	}
	if _, err := h.setProfile(a.profile, storePath(base)); err != nil {
		return result(1, "", strings.Join(append(stderr, fsError(err)), "\n"))
	}
	// Observed: a substituted path's fetch lines stay on stderr, exit 0.
	return result(0, "", strings.Join(stderr, "\n"))
}

// nixEnvSwitch is --rollback (dst 0) or --switch-generation dst.
func (h *Host) nixEnvSwitch(profile string, dst int) proc.Result {
	if msg := h.profileLockError(profile); msg != "" {
		return result(1, "", msg)
	}
	line, exit := h.switchGeneration(profile, dst)
	return result(exit, "", line)
}

// nixEnvList is --list-generations; a profile without generations prints
// nothing, exit 0 (observed).
func (h *Host) nixEnvList(profile string) proc.Result {
	if msg := h.profileLockError(profile); msg != "" {
		return result(1, "", msg)
	}
	st, err := h.readProfile(profile)
	if err != nil {
		return result(1, "", fsError(err))
	}
	return result(0, listGenerations(st), "")
}

// profileLockError is Nix 2.8's failure to open "<profile>.lock" when the
// profile's directory is missing (observed); "" when it is there.
func (h *Host) profileLockError(profile string) string {
	if h.isDir(path.Dir(profile)) {
		return ""
	}
	return fmt.Sprintf("error: opening lock file '%s.lock': No such file or directory", profile)
}

func (h *Host) isDir(name string) bool {
	fi, err := h.fs.Stat(name)
	return err == nil && fi.IsDir()
}
