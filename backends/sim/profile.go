package sim

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/nixprofile"
)

// Generation is one generation of the system profile, read from the
// filesystem view (so links re-pointed by anyone are seen).
type Generation struct {
	// Number is N of the link "system-N-link".
	Number int
	// Target is the generation link's target as stored (a store path).
	Target string
	// Current marks the generation the profile link points at.
	Current bool
	// Created is when the simulator made the generation (virtual time).
	Created time.Time
}

// profileState is the profile's generations (ascending) and the current
// generation number (0 when the profile link is missing or names no
// generation, as Nix 2.8's findGenerations).
type profileState struct {
	gens    []Generation
	current int
}

// readProfile lists profile's generations as Nix 2.8 does: the entries
// "<name>-N-link" beside it, sorted by N. Errors: the directory cannot be
// read (fs errors from the view).
func (h *Host) readProfile(profile string) (profileState, error) {
	dir, name := path.Dir(profile), path.Base(profile)
	entries, err := h.fs.ReadDir(dir)
	if err != nil {
		return profileState{}, err
	}
	var st profileState
	for _, e := range entries {
		n, ok := nixprofile.Generation(name, e.Name())
		if !ok || e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		target, err := h.fs.Readlink(path.Join(dir, e.Name()))
		if err != nil {
			return profileState{}, err
		}
		st.gens = append(st.gens, Generation{Number: n, Target: target, Created: h.genCreated(path.Join(dir, e.Name()))})
	}
	slices.SortFunc(st.gens, func(a, b Generation) int { return a.Number - b.Number })
	if target, err := h.fs.Readlink(profile); err == nil {
		st.current, _ = nixprofile.Generation(name, target)
	}
	for i := range st.gens {
		st.gens[i].Current = st.gens[i].Number == st.current
	}
	return st, nil
}

func (h *Host) genCreated(link string) time.Time {
	if t, ok := h.genTimes[link]; ok {
		return t
	}
	return h.start
}

// setProfile points profile at target (a store path) as Nix 2.8's
// createGeneration + switchLink do: a new generation max+1, unless the
// highest generation already points at target, which is then reused; the
// profile link is re-pointed atomically at the relative "name-N-link".
// Returns the generation number. Errors: the directory cannot be read or
// written.
func (h *Host) setProfile(profile, target string) (int, error) {
	st, err := h.readProfile(profile)
	if err != nil {
		return 0, err
	}
	n := 1
	if len(st.gens) > 0 {
		last := st.gens[len(st.gens)-1]
		n = last.Number + 1
		if last.Target == target {
			n = last.Number
		}
	}
	link := nixprofile.Link(profile, n)
	if n != st.lastNumber() {
		if err := h.fs.Symlink(target, link); err != nil {
			return 0, err
		}
		h.genTimes[link] = h.clk.Now()
	}
	// LOADBEARING: the generation link exists before the profile points at
	// it, and the profile is replaced by rename, never left missing.
	return n, h.fs.ReplaceLink(path.Base(link), profile)
}

func (st profileState) lastNumber() int {
	if len(st.gens) == 0 {
		return 0
	}
	return st.gens[len(st.gens)-1].Number
}

// switchGeneration re-points profile at generation dst, or with dst 0 at
// the highest generation below the current one (rollback), as Nix 2.8's
// switchGeneration. It returns the stderr line and exit status nix-env
// gives.
func (h *Host) switchGeneration(profile string, dst int) (string, int) {
	st, err := h.readProfile(profile)
	if err != nil {
		return fsError(err), 1
	}
	var found *Generation
	for i, g := range st.gens {
		if (dst == 0 && g.Number < st.current) || (dst != 0 && g.Number == dst) {
			found = &st.gens[i]
		}
	}
	switch {
	case found == nil && dst != 0:
		return fmt.Sprintf("error: profile version %d does not exist", dst), 1
	case found == nil:
		return fmt.Sprintf("error: no profile version older than the current (%d) exists", st.current), 1
	}
	if err := h.fs.ReplaceLink(path.Base(nixprofile.Link(profile, found.Number)), profile); err != nil {
		return fsError(err), 1
	}
	return fmt.Sprintf("switching profile from version %d to %d", st.current, found.Number), 0
}

// listGenerations renders Nix 2.8's --list-generations (observed:
// "%4d   %s   %s", the time as "2006-01-02 15:04:05" in the host's zone,
// "(current)" or nothing).
func listGenerations(st profileState) string {
	var b strings.Builder
	for _, g := range st.gens {
		mark := ""
		if g.Current {
			mark = "(current)"
		}
		fmt.Fprintf(&b, "%4d   %s   %s\n", g.Number, g.Created.Format("2006-01-02 15:04:05"), mark)
	}
	return b.String()
}

// fsError renders an unexpected view error as a Nix error line.
func fsError(err error) string { return "error: " + err.Error() }

// Profile returns the system profile's generations, ascending (nil when it
// has none or cannot be read).
func (h *Host) Profile() []Generation {
	st, _ := h.readProfile(h.cfg.Profile)
	return st.gens
}

// ProfileGeneration returns the system profile's current generation
// number (0 when the profile link is missing).
func (h *Host) ProfileGeneration() int {
	st, _ := h.readProfile(h.cfg.Profile)
	return st.current
}

// ProfileTarget returns the store basename the system profile resolves to
// ("" when it does not resolve).
func (h *Host) ProfileTarget() string {
	p, err := h.fs.EvalSymlinks(h.cfg.Profile)
	if err != nil {
		return ""
	}
	return storeBasename(p)
}

// InitProfile makes the given closures the system profile's generations
// 1..n (each made valid in the store), the profile pointing at the last.
// Errors: no basenames, a basename Nix would reject, a view error.
func (h *Host) InitProfile(basenames ...string) error {
	if len(basenames) == 0 {
		return fmt.Errorf("sim: InitProfile: no generations")
	}
	for _, b := range basenames {
		if _, err := h.SetProfile(b); err != nil {
			return err
		}
	}
	return nil
}

// SetProfile points the system profile at basename as `nix-env --profile
// P --set` would (making it valid first) and returns the generation
// number. Errors: a bad basename, a view error.
func (h *Host) SetProfile(basename string) (int, error) {
	if err := h.ensureValid(basename); err != nil {
		return 0, err
	}
	return h.setProfile(h.cfg.Profile, storePath(basename))
}

// SetGeneration makes basename the system profile's generation n (a link
// "system-n-link", replacing one already there) and points the profile at
// it, so scenarios can build profiles with gaps (deleted generations) and
// high numbers. Errors: n < 1, a bad basename, a view error.
func (h *Host) SetGeneration(n int, basename string) error {
	if n < 1 {
		return fmt.Errorf("sim: generation %d: want 1 or more", n)
	}
	if err := h.ensureValid(basename); err != nil {
		return err
	}
	link := nixprofile.Link(h.cfg.Profile, n)
	if err := h.fs.ReplaceLink(storePath(basename), link); err != nil {
		return err
	}
	h.genTimes[link] = h.clk.Now()
	return h.fs.ReplaceLink(path.Base(link), h.cfg.Profile)
}

// DeleteGeneration removes the system profile's generation n, as
// `nix-env --delete-generations n` or `nix-collect-garbage -d` would; like
// them it refuses the current generation. Errors: n is current or missing,
// a view error.
func (h *Host) DeleteGeneration(n int) error {
	if n == h.ProfileGeneration() {
		return fmt.Errorf("sim: generation %d is current", n)
	}
	link := nixprofile.Link(h.cfg.Profile, n)
	if err := h.fs.Remove(link); err != nil {
		return fmt.Errorf("sim: deleting generation %d: %w", n, err)
	}
	delete(h.genTimes, link)
	return nil
}

// ensureValid checks basename and puts it in the store.
func (h *Host) ensureValid(basename string) error {
	if msg := checkBasename(basename); msg != "" {
		return fmt.Errorf("sim: %s", msg)
	}
	if h.valid[basename] {
		return nil
	}
	return h.makeValid(basename)
}

// storeBasename returns the store basename of a path under the store, ""
// otherwise.
func storeBasename(p string) string {
	rest, ok := strings.CutPrefix(p, StoreDir+"/")
	if !ok {
		return ""
	}
	base, _, _ := strings.Cut(rest, "/")
	return base
}
