package fsview

import "io/fs"

// The interfaces below are optional for a Raw layer: View takes them
// through OptionalsOf (by type assertion, or from a Forwarder that wraps
// another layer) and falls back to plain Raw calls (or, for Sharer, to
// ErrNotMem) when a layer lacks one. They are the whole boundary between
// View and its layers: View names no concrete layer.

// Syncer is implemented by a Raw layer whose writes can be made durable.
// Sync flushes the file or directory name to stable storage (fsync(2)).
// View's temp+rename writes call it on the temporary file before the
// rename and on the directory after it; a Raw without Syncer gets
// temp+rename only.
type Syncer interface {
	Sync(name string) error
}

// SymlinkIndex is implemented by a Raw layer that keeps every name whole
// in an index (MemRaw). Longest returns the longest held prefix of the
// clean absolute name (name itself or an ancestor, cut at a slash), looked
// up as whole keys, never walked: info is what Lstat gives for it, target
// a link's target verbatim; info is nil when not even "/" is held. The
// layer promises that every ancestor of a held name is a held directory (a
// name below a link or a file is never held), so View answers most
// resolutions from one or two such look-ups instead of a walk component
// by component.
type SymlinkIndex interface {
	Longest(name string) (prefix string, info fs.FileInfo, target string)
}

// Sharer is implemented by a Raw layer whose entries can be shared
// copy-on-write with another layer of its kind (MemRaw); View.Clone and
// View.CopyTree need it and give ErrNotMem without it.
type Sharer interface {
	// Clone returns a layer with the same names, contents, modes and links
	// that changes independently of this one from now on.
	Clone() Raw
	// Graft adds src's entry at name, with everything below it, under the
	// same name, shared with src. name must be missing here and its parent
	// a directory (syscall.EEXIST, ENOENT, ENOTDIR otherwise); ENOENT when
	// src has no name; ErrNotMem when src is not of this layer's kind.
	Graft(src Raw, name string) error
}

// FileReplacer is implemented by a Raw layer that replaces an entry with a
// new regular file atomically by itself (OSRaw: temp+fsync+rename(2)+fsync
// of the directory; MemRaw: one step under its lock). ReplaceFile puts a
// regular file holding data with mode perm exactly (no umask) at name, a
// link or file there included (never followed); a directory gives
// syscall.EISDIR, a bad parent ENOENT or ENOTDIR. View.ReplaceFile and
// View.WriteFileAtomic use it instead of their temp+rename over Raw.
type FileReplacer interface {
	ReplaceFile(name string, data []byte, perm fs.FileMode) error
}

// UnsyncedFileReplacer is implemented by a Raw layer whose FileReplacer
// makes the new name durable with a separate directory sync (OSRaw):
// ReplaceFileUnsyncedName is ReplaceFile without that sync, for
// View.ReplaceFileUnsyncedName. A layer without it replaces durably.
type UnsyncedFileReplacer interface {
	ReplaceFileUnsyncedName(name string, data []byte, perm fs.FileMode) error
}

// LinkReplacer is implemented by a Raw layer that points a link at a new
// target in one atomic step (MemRaw), with the errors of FileReplacer.
// View.ReplaceLink uses it instead of a temporary link renamed over name.
type LinkReplacer interface {
	ReplaceLink(target, name string) error
}

// ChangeNotifier is implemented by a Raw layer that reports its own
// changes (MemRaw): OnChange calls fn with the clean absolute name of every
// entry created, replaced or removed from now on (a file's contents
// written in place are not reported), nil stops. View.OnChange uses it.
type ChangeNotifier interface {
	OnChange(fn func(name string))
}

// RegularReader is implemented by a Raw layer that can check and read a
// regular file in one step (OSRaw: fstat(2) of a descriptor opened with
// O_NOFOLLOW|O_NONBLOCK, so a FIFO never blocks), with View.ReadRegular's
// errors. View.ReadRegular falls back to Lstat then ReadFile.
type RegularReader interface {
	ReadRegular(name string, max int64) ([]byte, error)
}

// NoReplaceRenamer is implemented by a Raw layer that renames without
// replacing atomically (OSRaw: renameat2(2) with RENAME_NOREPLACE, Linux
// 3.15+): syscall.EEXIST when newname exists. View.RenameNoReplace falls
// back to a check and Rename.
type NoReplaceRenamer interface {
	RenameNoReplace(oldname, newname string) error
}
