package sim

import (
	"errors"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// GCRootsDir is Nix's directory of garbage collector roots; AutoRootsDir
// holds the indirect roots --add-root registers (Nix 2.8 layout).
const (
	GCRootsDir   = "/nix/var/nix/gcroots"
	AutoRootsDir = GCRootsDir + "/auto"
)

// addRoot emulates nix-store --realise's --add-root of Nix 2.8 (observed;
// libstore/gc.cc addPermRoot): the root is made absolute, the nth path of
// the command gets ROOT-n from the second on, a root inside the store is
// refused, a root that exists and is not a symlink is refused, parents are
// created, the link replaced, an indirect root registered under
// AutoRootsDir, and the root's path (not the store path) is printed. It
// returns the line to print, or the error line.
func (h *Host) addRoot(root string, nth int, storePathTarget string) (string, string) {
	if !path.IsAbs(root) {
		root = "/" + root // the agent's working directory is /
	}
	root = path.Clean(root)
	if nth > 1 {
		root += "-" + strconv.Itoa(nth)
	}
	if root == StoreDir || strings.HasPrefix(root, StoreDir+"/") {
		return "", "error: creating a garbage collector root (" + root + ") in the Nix store is forbidden (are you running nix-build inside the store?)"
	}
	if info, err := h.fs.Lstat(root); err == nil && info.Mode()&fs.ModeSymlink == 0 {
		return "", "error: cannot create symlink '" + root + "'; already exists"
	}
	if err := h.fs.MkdirAll(path.Dir(root), 0o755); err != nil {
		return "", "error: creating directory '" + path.Dir(root) + "': " + errText(err)
	}
	if err := h.fs.ReplaceLink(storePathTarget, root); err != nil {
		return "", "error: creating symlink '" + root + "': " + errText(err)
	}
	auto := path.Join(AutoRootsDir, FakeBasename(root, "gcroot")[:hashLen])
	if err := h.fs.MkdirAll(AutoRootsDir, 0o755); err == nil {
		_ = h.fs.ReplaceLink(root, auto)
	}
	return root, ""
}

func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// CollectGarbage deletes every valid store path no root keeps alive, as
// `nix-store --gc` does (Nix 2.8, simplified): roots are the links under
// GCRootsDir (indirect ones followed; dangling auto roots removed), the
// system profile's generation links, /run/current-system and
// /run/booted-system (NixOS roots them); a live closure keeps its
// component store objects. It returns the deleted basenames, sorted.
func (h *Host) CollectGarbage() []string {
	live := map[string]bool{}
	for _, link := range h.rootLinks() {
		target, err := h.fs.EvalSymlinks(link)
		if err != nil {
			if strings.HasPrefix(link, AutoRootsDir+"/") {
				_ = h.fs.Remove(link)
			}
			continue
		}
		if base := storeBasename(target); base != "" {
			h.markLive(base, live)
		}
	}
	var deleted []string
	for base := range h.valid {
		if !live[base] {
			deleted = append(deleted, base)
		}
	}
	sort.Strings(deleted)
	for _, base := range deleted {
		delete(h.valid, base)
		_ = h.fs.RemoveAll(storePath(base))
	}
	return deleted
}

// rootLinks lists the links the collector starts from.
func (h *Host) rootLinks() []string {
	links := []string{DefaultCurrentSystem, DefaultBootedSystem}
	links = append(links, h.linksUnder(GCRootsDir)...)
	return append(links, h.linksUnder(path.Dir(h.cfg.Profile))...)
}

// linksUnder lists the symlinks below dir, not following links to
// directories.
func (h *Host) linksUnder(dir string) []string {
	entries, err := h.fs.ReadDir(dir)
	if err != nil {
		return nil
	}
	var links []string
	for _, e := range entries {
		name := path.Join(dir, e.Name())
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			links = append(links, name)
		case e.IsDir():
			links = append(links, h.linksUnder(name)...)
		}
	}
	return links
}

// markLive marks base and the store objects its closure refers to.
func (h *Host) markLive(base string, live map[string]bool) {
	live[base] = true
	if c, ok := h.closures[base]; ok {
		for _, l := range c.links {
			live[l.store] = true
		}
	}
}
