package sim

import (
	"fmt"
	"path"
	"strings"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// Components are the versions of the parts of a system closure that
// switch-to-configuration cannot replace live. Each becomes a link in the
// closure whose canonical target is a store path named after the version,
// so two closures differ in a component exactly when its versions differ.
// Empty fields take the defaults of DefaultComponents.
type Components struct {
	Kernel, Initrd, KernelModules, Systemd, Dbus string
}

// DefaultComponents are the versions a closure gets for empty fields (a
// NixOS 23.05-like set).
var DefaultComponents = Components{
	Kernel: "6.1.55", Initrd: "6.1.55", KernelModules: "6.1.55", Systemd: "253.6", Dbus: "1.14.8",
}

func (c Components) withDefaults() Components {
	c.Kernel = orDefault(c.Kernel, DefaultComponents.Kernel)
	c.Initrd = orDefault(c.Initrd, DefaultComponents.Initrd)
	c.KernelModules = orDefault(c.KernelModules, DefaultComponents.KernelModules)
	c.Systemd = orDefault(c.Systemd, DefaultComponents.Systemd)
	c.Dbus = orDefault(c.Dbus, DefaultComponents.Dbus)
	return c
}

// key identifies the versions in the store cache.
func (c Components) key() string {
	return strings.Join([]string{c.Kernel, c.Initrd, c.KernelModules, c.Systemd, c.Dbus}, "\x00")
}

// componentLink is one link inside a closure and the store object it
// points at.
type componentLink struct {
	// rel is the link's path inside the closure.
	rel string
	// store is the target's store basename; file, when set, is a file
	// inside it that the link points at (else the link points at the
	// store directory itself).
	store, file string
	// object is the store object's path, target the link's target (object
	// or the file in it), key the object's name in the store cache.
	object, target, key string
}

func newComponentLink(rel, store, file string) componentLink {
	l := componentLink{rel: rel, store: store, file: file, object: storePath(store), key: "object\x00" + store + "\x00" + file}
	l.target = l.object
	if file != "" {
		l.target = path.Join(l.object, file)
	}
	return l
}

// links lays the components out as NixOS does (nixos/modules/system/
// activation/top-level.nix): kernel, initrd and kernel-modules links at the
// top, systemd as the top-level link, dbus through its unit file.
func (c Components) links() []componentLink {
	named := func(name string) string { return FakeBasename(name, "component") }
	return []componentLink{
		newComponentLink("kernel", named("linux-"+c.Kernel), "bzImage"),
		newComponentLink("initrd", named("initrd-linux-"+c.Initrd), "initrd"),
		newComponentLink("kernel-modules", named("linux-"+c.KernelModules+"-modules"), ""),
		newComponentLink("systemd", named("systemd-"+c.Systemd), ""),
		newComponentLink("etc/systemd/system/dbus.service", named("dbus-"+c.Dbus), "share/systemd/system/dbus.service"),
	}
}

// Offer is one substituter's copy of a closure.
type Offer struct {
	// URL is the substituter ("file:///srv/cache", "https://cache.example").
	URL string
	// SignedBy is the public key ("name:base64", see Key) whose secret key
	// signed the narinfo; "" means unsigned.
	SignedBy string
	// Defect makes the copy unusable even when trusted.
	Defect OfferDefect
	// NarinfoStatus and NarStatus, when non-zero, are the HTTP status an
	// http(s) substituter answers for this path's narinfo and NAR (401,
	// 403, 404, 500, ...; see narinfoServed and narStatusError).
	NarinfoStatus, NarStatus int
}

// OfferDefect is what is wrong with a substituter's copy.
type OfferDefect string

const (
	// OfferGood: the copy is sound.
	OfferGood OfferDefect = ""
	// OfferHashMismatch: the NAR's content was replaced.
	OfferHashMismatch OfferDefect = "hash-mismatch"
	// OfferNarMissing: the narinfo is there, the NAR file is not.
	OfferNarMissing OfferDefect = "nar-missing"
	// OfferGarbage: the NAR is not compressed data.
	OfferGarbage OfferDefect = "garbage"
)

// Key returns a deterministic public key string "name:base64" for a key
// name, in the shape of nix-store --generate-binary-cache-key's public key.
// Two names give two keys; the same name the same key.
func Key(name string) string {
	return name + ":" + fakeKeyMaterial(name)
}

// ClosureSpec describes a system closure for AddClosure.
type ClosureSpec struct {
	// Basename is "<hash>-nixos-system-<host>-<release>" (see FakeBasename).
	Basename string
	// Components are the component versions (empty: DefaultComponents).
	Components Components
	// Valid puts the closure in the local store at once.
	Valid bool
	// Offers are the substituters' copies, used by realise when the path is
	// not valid.
	Offers []Offer
	// RealisesAs, when set, is the basename a successful realise prints
	// instead of Basename (the "realised path differs" fault).
	RealisesAs string
	// Switch is how `switch-to-configuration switch` (and `test`) behaves
	// (nil: DefaultSwitch()).
	Switch *SwitchBehaviour
	// Boot is how `switch-to-configuration boot` behaves (nil:
	// DefaultBoot()).
	Boot *BootBehaviour
	// BrokenBinary: bin/switch-to-configuration exists but cannot be
	// executed; every action's unit fails at once with ExecMainStatus 203
	// (systemd's EXIT_EXEC), and under --service-type=exec systemd-run's
	// start job fails (observed with systemd 252).
	BrokenBinary bool
	// Program says whether the closure holds bin/switch-to-configuration
	// and how: ProgramExecutable (a NixOS system), ProgramMissing (a
	// package, not a system) or ProgramNotExecutable (mode 0444).
	Program SwitchProgram
	// Checks are the health checks the closure ships (health.go).
	Checks []Check
}

// SwitchProgram is the state of a closure's bin/switch-to-configuration.
type SwitchProgram string

const (
	// ProgramExecutable: an executable file, as every NixOS system has.
	ProgramExecutable SwitchProgram = ""
	// ProgramMissing: no bin/switch-to-configuration (a package closure).
	ProgramMissing SwitchProgram = "missing"
	// ProgramNotExecutable: the file exists without an execute bit.
	ProgramNotExecutable SwitchProgram = "not-executable"
)

// closure is a known closure. Hosts cloned from one another share them:
// a closure is replaced, never changed.
type closure struct {
	spec       ClosureSpec
	components Components
	// links are components.links(), made once (each names its store
	// object with a hash); key names the closure's own tree in the store
	// cache.
	links []componentLink
	key   string
}

func (c *closure) switchBehaviour() SwitchBehaviour {
	if c.spec.Switch == nil {
		return DefaultSwitch()
	}
	return *c.spec.Switch
}

func (c *closure) bootBehaviour() BootBehaviour {
	if c.spec.Boot == nil {
		return DefaultBoot()
	}
	return *c.spec.Boot
}

// AddClosure registers a closure (replacing one of the same basename) and,
// if spec.Valid, puts it in the local store. Errors: a basename Nix 2.8
// would reject.
func (h *Host) AddClosure(spec ClosureSpec) error {
	if msg := checkBasename(spec.Basename); msg != "" {
		return fmt.Errorf("sim: closure: %s", msg)
	}
	components := spec.Components.withDefaults()
	h.closures[spec.Basename] = &closure{spec: spec, components: components, links: components.links(),
		key: "closure\x00" + spec.Basename + "\x00" + components.key() + "\x00" + string(spec.Program) + "\x00" + checksKey(spec.Checks)}
	if spec.Valid {
		return h.makeValid(spec.Basename)
	}
	return nil
}

// MustAddClosure is AddClosure that panics on error, for tests.
func (h *Host) MustAddClosure(spec ClosureSpec) {
	if err := h.AddClosure(spec); err != nil {
		panic(err)
	}
}

// SetSwitch replaces a known closure's switch behaviour. Errors: unknown
// closure.
func (h *Host) SetSwitch(basename string, b SwitchBehaviour) error {
	return h.replaceSpec(basename, func(spec *ClosureSpec) { spec.Switch = &b })
}

// SetBoot replaces a known closure's boot behaviour. Errors: unknown
// closure.
func (h *Host) SetBoot(basename string, b BootBehaviour) error {
	return h.replaceSpec(basename, func(spec *ClosureSpec) { spec.Boot = &b })
}

// replaceSpec stores a changed copy of a known closure. Errors: unknown
// closure.
func (h *Host) replaceSpec(basename string, change func(*ClosureSpec)) error {
	c, err := h.closure(basename)
	if err != nil {
		return err
	}
	changed := *c // LOADBEARING: clones share closures; never change one in place
	change(&changed.spec)
	h.closures[basename] = &changed
	return nil
}

func (h *Host) closure(basename string) (*closure, error) {
	c, ok := h.closures[basename]
	if !ok {
		return nil, fmt.Errorf("sim: unknown closure %q", basename)
	}
	return c, nil
}

// IsValid reports whether basename is valid in the local store.
func (h *Host) IsValid(basename string) bool { return h.valid[basename] }

// makeValid adds basename to the local store and writes its tree: a
// registered closure gets bin/switch-to-configuration and its component
// links (with their targets); any other path an empty directory. A tree
// missing from the host is shared from the store cache (see place).
func (h *Host) makeValid(basename string) error {
	h.valid[basename] = true
	root := storePath(basename)
	c, ok := h.closures[basename]
	if !ok {
		return wrapErr(h.fs.MkdirAll(root, 0o555))
	}
	if err := h.place(root, c); err != nil {
		return err
	}
	for i := range c.links {
		l := &c.links[i]
		h.valid[l.store] = true
		if err := h.place(l.object, l); err != nil {
			return err
		}
	}
	return nil
}

// cacheKey and write make a closure's own tree a storeTree.
func (c *closure) cacheKey() string { return c.key }

func (c *closure) write(v *fsview.View) error {
	if err := writeClosure(v, c.spec.Basename, c.spec.Program, c.links); err != nil {
		return err
	}
	return writeHealth(storePath(c.spec.Basename), c.spec.Checks, func(name, data string) error { return writeFile(v, name, data) })
}

// cacheKey and write make a component's store object a storeTree.
func (l *componentLink) cacheKey() string { return l.key }

func (l *componentLink) write(v *fsview.View) error { return writeObject(v, *l) }

// writeClosure writes a closure's own tree into v: the directory,
// bin/switch-to-configuration and the absolute links to its components'
// store objects (which writeObject writes).
func writeClosure(v *fsview.View, basename string, program SwitchProgram, links []componentLink) error {
	root := storePath(basename)
	if err := v.MkdirAll(root, 0o555); err != nil {
		return wrapErr(err)
	}
	if err := writeProgram(v, root, basename, program); err != nil {
		return err
	}
	for _, l := range links {
		if err := v.MkdirAll(path.Dir(path.Join(root, l.rel)), 0o555); err != nil {
			return wrapErr(err)
		}
		if err := v.ReplaceLink(l.target, path.Join(root, l.rel)); err != nil {
			return wrapErr(err)
		}
	}
	return nil
}

// writeProgram writes bin/switch-to-configuration as program says.
func writeProgram(v *fsview.View, root, basename string, program SwitchProgram) error {
	name := path.Join(root, "bin/switch-to-configuration")
	script := fmt.Sprintf("#!/bin/sh\n# simulated switch-to-configuration of %s\n", basename)
	switch program {
	case ProgramMissing:
		return wrapErr(v.MkdirAll(path.Dir(name), 0o555))
	case ProgramNotExecutable:
		if err := v.MkdirAll(path.Dir(name), 0o555); err != nil {
			return wrapErr(err)
		}
		return wrapErr(v.WriteFile(name, []byte(script), 0o444))
	}
	return writeFile(v, name, script)
}

// writeObject writes a component's store object into v: a directory, with
// the file the link names when there is one (its content is the store
// basename).
func writeObject(v *fsview.View, l componentLink) error {
	if l.file == "" {
		return wrapErr(v.MkdirAll(l.object, 0o555))
	}
	return writeFile(v, l.target, l.store+"\n")
}

// writeFile writes name, creating its directory. A file that already holds
// data is left as it is (its time aside, the write would change nothing).
func writeFile(v *fsview.View, name, data string) error {
	if have, err := v.ReadFile(name); err == nil && string(have) == data {
		return nil
	}
	if err := v.MkdirAll(path.Dir(name), 0o755); err != nil {
		return wrapErr(err)
	}
	return wrapErr(v.WriteFile(name, []byte(data), 0o555))
}

func wrapErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sim: %w", err)
}
