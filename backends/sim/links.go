package sim

import "fmt"

// SetCurrent points /run/current-system at basename (made valid in the
// store), as the running system's activation left it. Errors: a bad
// basename, a view error.
func (h *Host) SetCurrent(basename string) error {
	return h.pointRunLink(DefaultCurrentSystem, basename)
}

// SetBooted points /run/booted-system at basename (made valid in the
// store). Errors: a bad basename, a view error.
func (h *Host) SetBooted(basename string) error {
	return h.pointRunLink(DefaultBootedSystem, basename)
}

func (h *Host) pointRunLink(link, basename string) error {
	if err := h.ensureValid(basename); err != nil {
		return err
	}
	if err := h.fs.ReplaceLink(storePath(basename), link); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	return nil
}

// CurrentSystem returns the raw target of /run/current-system ("" when
// the link is missing).
func (h *Host) CurrentSystem() string { return h.readRunLink(DefaultCurrentSystem) }

// BootedSystem returns the raw target of /run/booted-system ("" when the
// link is missing).
func (h *Host) BootedSystem() string { return h.readRunLink(DefaultBootedSystem) }

func (h *Host) readRunLink(link string) string {
	target, err := h.fs.Readlink(link)
	if err != nil {
		return ""
	}
	return target
}
