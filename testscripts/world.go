package testscripts

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// Defaults of a scenario's host when the script has no `host` line.
const (
	defaultCache    = "file:///srv/cache"
	defaultKeyName  = "cache"
	defaultHostName = "web1"
	defaultRelease  = "24.05"
)

// world is one script's simulated host and what the script named in it.
type world struct {
	cfg     sim.HostConfig
	h       *sim.Host
	touched bool // a command has used the host: `host` may no longer rebuild it
	name    string

	closures map[string]*sim.ClosureSpec // by alias
	agent    agentConfig

	state     *sim.StateDir // the agent's journal's view of the host, with its faults
	kill      sim.Kill      // where the next agent process dies (zero: nowhere)
	last      *lastRun
	eventErrs []error // errors of effects scheduled with `at`
	cli       CLI     // runs `cli` lines (Options.CLI)
}

// takeKill returns the kill rule of the next agent process, which it uses
// up.
func (w *world) takeKill() sim.Kill {
	k := w.kill
	w.kill = sim.Kill{}
	return k
}

// lastRun is the last activate, rollback or recover.
type lastRun struct {
	json   []byte
	fields map[string]any // nil when it printed no outcome
	// killed says where the agent died, when it did.
	killed   string
	logStart int // index of its first command in the host's log
}

func newWorld() (*world, error) {
	w := &world{closures: map[string]*sim.ClosureSpec{}, name: defaultHostName}
	return w, w.build(sim.HostConfig{
		Substituters:      []string{defaultCache},
		TrustedPublicKeys: []string{sim.Key(defaultKeyName)},
		Costs:             sim.ObservedCosts(),
	})
}

func (w *world) build(cfg sim.HostConfig) error {
	h, err := sim.NewHost(cfg)
	if err != nil {
		return err
	}
	w.cfg, w.h, w.state = cfg, h, sim.NewStateDir(h.FS(), pipeline.DefaultStateDir)
	return nil
}

// host returns the host for a command that uses it.
func (w *world) host() *sim.Host {
	w.touched = true
	return w.h
}

// validAlias reports whether alias is what a closure alias may look like:
// a lowercase letter, then lowercase letters, digits and "_". It becomes
// an environment variable of the script ($new), so lowercase only, never
// PATH or WORK.
func validAlias(alias string) bool {
	return alias != "" && 'a' <= alias[0] && alias[0] <= 'z' &&
		strings.Trim(alias[1:], "abcdefghijklmnopqrstuvwxyz0123456789_") == ""
}

// basename returns the store basename of a declared alias.
func (w *world) basename(alias string) (string, error) {
	spec, ok := w.closures[alias]
	if !ok {
		return "", fmt.Errorf("unknown closure %q: declare it first with `closure %s`", alias, alias)
	}
	return spec.Basename, nil
}

// spec returns a declared closure's spec for changing.
func (w *world) spec(alias string) (*sim.ClosureSpec, error) {
	spec, ok := w.closures[alias]
	if !ok {
		return nil, fmt.Errorf("unknown closure %q: declare it first with `closure %s`", alias, alias)
	}
	return spec, nil
}

// commit re-registers a changed closure with the host (AddClosure replaces
// a closure of the same basename; a valid one stays valid).
func (w *world) commit(spec *sim.ClosureSpec) error {
	return w.host().AddClosure(*spec)
}

// alias returns the alias of a basename, "" when none.
func (w *world) alias(basename string) string {
	for a, spec := range w.closures {
		if spec.Basename == basename {
			return a
		}
	}
	return ""
}

// storeAlias renders a store path target as its alias ("" when missing),
// or the raw target when it is not a declared closure.
func (w *world) storeAlias(target string) string {
	if target == "" {
		return "missing"
	}
	base, ok := strings.CutPrefix(target, sim.StoreDir+"/")
	if a := w.alias(base); ok && a != "" {
		return a
	}
	return target
}

// readable replaces every declared basename in s with <alias>, longest
// first, so command logs read "/nix/store/<new>".
func (w *world) readable(s string) string {
	pairs := make([][2]string, 0, len(w.closures))
	for a, spec := range w.closures {
		pairs = append(pairs, [2]string{spec.Basename, "<" + a + ">"})
	}
	sort.Slice(pairs, func(i, j int) bool { return len(pairs[i][0]) > len(pairs[j][0]) })
	for _, p := range pairs {
		s = strings.ReplaceAll(s, p[0], p[1])
	}
	return s
}

// schedule runs effect at offset d from now in virtual time; its error is
// reported by the next command of the script.
func (w *world) schedule(d time.Duration, what string, effect func() error) {
	w.host().Clock().Schedule(d, func() {
		if err := effect(); err != nil {
			w.eventErrs = append(w.eventErrs, fmt.Errorf("at +%s, %s: %w", w.h.Elapsed(), what, err))
		}
	})
}

// takeEventErrs returns and clears the errors of scheduled effects.
func (w *world) takeEventErrs() error {
	err := errors.Join(w.eventErrs...)
	w.eventErrs = nil
	return err
}

// summary is the host's state for failure messages, aliases applied.
func (w *world) summary() string {
	return w.readable(w.h.Summary())
}
