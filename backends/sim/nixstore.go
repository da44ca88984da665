package sim

import (
	"fmt"
	"strings"

	"github.com/nixfleet/nixfleet-activate/proc"
)

// nixStoreOps are nix-store 2.8's operation flags; only --realise is
// emulated.
var nixStoreOps = map[string]string{
	"--realise": "realise", "-r": "realise",
	"--add": "add", "--add-fixed": "add", "--delete": "delete", "--query": "query", "-q": "query",
	"--gc": "gc", "--verify": "verify", "--verify-path": "verify", "--repair-path": "repair",
	"--dump": "dump", "--restore": "restore", "--export": "export", "--import": "import",
	"--read-log": "read-log", "-l": "read-log", "--dump-db": "dump-db", "--load-db": "load-db",
	"--optimise": "optimise", "--serve": "serve", "--generate-binary-cache-key": "keygen",
}

// nixArgs is a parsed nix-store or nix-env command line.
type nixArgs struct {
	op       string
	opArg    string // --switch-generation's number
	operands []string
	unknown  []string // flags no parser knew, reported by the operation
	settings nixSettings
	profile  string
	// addRoot is --add-root's path ("" without it).
	addRoot string
	// debug: --debug, the transfers' status lines are printed.
	debug bool
}

// usageError is a Nix 2.8 usage error: "error: MSG" then the help hint,
// exit 1 (observed).
func (h *Host) usageError(prog, msg string) proc.Result {
	return result(1, "", "error: "+msg+"\n"+h.phrase.UsageHint(prog))
}

// nixStore emulates `nix-store --realise PATH... [--option NAME VALUE]...
// [--add-root P [--indirect]]` of Nix 2.8 (observed): usage errors first
// ("no operation specified", "flag '--option' requires 2 argument(s)",
// "unknown flag"), then path syntax (nothing runs for a bad path), then
// each path: valid -> printed on stdout with the --add-root warning, or,
// with --add-root, the GC root made and its path printed (see addRoot);
// otherwise substituted (see substitute), failures ending in "error: build
// of 'P' failed", exit 1.
func (h *Host) nixStore(cmd proc.Cmd) (proc.Result, error) {
	a, usage := h.parseNixStore(cmd)
	if usage != "" {
		return h.usageError("nix-store", usage), nil
	}
	if a.op != "realise" {
		return proc.Result{}, fmt.Errorf("%w: nix-store %s", ErrNotEmulated, a.op)
	}
	return h.realise(a), nil
}

func (h *Host) parseNixStore(cmd proc.Cmd) (nixArgs, string) {
	a := nixArgs{settings: h.settingsFor(cmd.Env)}
	args := cmd.Argv[1:]
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case nixStoreOps[arg] != "":
			a.op = nixStoreOps[arg]
		case arg == "--option":
			if i+2 >= len(args) {
				return a, "flag '--option' requires 2 argument(s)"
			}
			a.settings.apply(args[i+1], args[i+2])
			i += 2
		case arg == "--add-root":
			if i+1 >= len(args) {
				return a, "flag '--add-root' requires 1 argument(s)"
			}
			a.addRoot = args[i+1]
			i++
		case arg == "--debug":
			a.debug = true
		case arg == "--indirect":
			// Nix >= 2.4: accepted, no effect (nix-store.cc; observed with 2.8).
		case arg == "--":
			a.operands = append(a.operands, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(arg, "-") && arg != "-":
			a.unknown = append(a.unknown, arg)
		default:
			a.operands = append(a.operands, arg)
		}
	}
	switch {
	case a.op == "":
		return a, "no operation specified"
	case len(a.unknown) > 0:
		return a, fmt.Sprintf("unknown flag '%s'", a.unknown[0])
	}
	return a, ""
}

// realise runs the realise operation on parsed arguments.
func (h *Host) realise(a nixArgs) proc.Result {
	bases := make([]string, 0, len(a.operands))
	for _, arg := range a.operands {
		sp := parseStorePathArg(arg, h.exists)
		if sp.errLine != "" {
			return result(1, "", sp.errLine)
		}
		bases = append(bases, sp.basename)
	}
	var stdout, stderr, failed []string
	for _, base := range bases {
		if !h.valid[base] {
			sub := h.substitute(base, a.settings, a.debug)
			stderr = append(stderr, sub.stderr...)
			h.extraCost += sub.took
			if sub.abort {
				return result(1, "", strings.Join(stderr, "\n"))
			}
			if !sub.ok {
				failed = append(failed, "'"+storePath(base)+"'")
				continue
			}
		}
		realised := storePath(h.realisedAs(base))
		if a.addRoot == "" {
			stdout = append(stdout, realised)
			stderr = append(stderr, h.phrase.AddRootWarning())
			continue
		}
		root, errLine := h.addRoot(a.addRoot, len(stdout)+1, realised)
		if errLine != "" {
			return result(1, "", strings.Join(append(stderr, errLine), "\n"))
		}
		stdout = append(stdout, root)
	}
	if len(failed) > 0 {
		stderr = append(stderr, fmt.Sprintf("error: build of %s failed", strings.Join(failed, ", ")))
		return result(1, "", strings.Join(stderr, "\n"))
	}
	return result(0, strings.Join(stdout, "\n"), strings.Join(stderr, "\n"))
}

// realisedAs applies the "realised path differs" fault.
func (h *Host) realisedAs(base string) string {
	if c, ok := h.closures[base]; ok && c.spec.RealisesAs != "" {
		return c.spec.RealisesAs
	}
	return base
}

// exists reports whether name exists in the view (links followed).
func (h *Host) exists(name string) bool {
	_, err := h.fs.Stat(name)
	return err == nil
}
