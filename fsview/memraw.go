package fsview

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/afero"
	"github.com/spf13/afero/mem"
)

// MemRaw is the in-memory Raw layer: files and directories live in afero's
// MemMapFs, links in an index beside it (MemMapFs has no symlinks;
// spf13/afero#258). The index holds every name the layer has, with its
// kind, its fs.FileInfo, the MemMapFs that holds it and, for a directory,
// the number of its entries, so Lstat, Readlink, ReadDir and the checks
// below answer without asking MemMapFs (whose Stat opens a file handle).
// It checks what MemMapFs does not (a parent must exist; a directory must
// be empty to be removed; rename(2)'s EISDIR, ENOTDIR and ENOTEMPTY) so it
// fails like Linux. One mutex makes every operation atomic, so it is safe
// for concurrent use and Rename is atomic to other callers.
//
// Clone and CopyTree share files and directories between layers: a shared
// entry stays in the MemMapFs that made it, which no layer writes again;
// a layer writes only its own MemMapFs and copies a shared entry into it
// (its parents first) before changing it, so no change is seen by another
// layer.
type MemRaw struct {
	mu sync.Mutex
	// files is the MemMapFs this layer writes; it holds exactly the
	// entries of the index whose node names it (besides its root).
	files afero.Fs
	idx   memIndex // clean absolute name -> what is there
	// subtrees remembers what subtree gave, while the index is unchanged
	// (a store tree shared into every host is listed once).
	subtrees map[string]subtree
	// changed, when set, is told every name added to or dropped from the
	// index (OnChange); a clone does not inherit it.
	changed func(name string)
}

// subtree is a name and everything below it, parents first, with their
// (frozen) nodes, as of an index version.
type subtree struct {
	version uint64
	names   []string
	nodes   []*memNode
}

// memNode is one indexed name.
type memNode struct {
	kind memKind
	// files is the MemMapFs holding a file or directory under this very
	// name (nil for a link).
	files afero.Fs
	// info is afero's FileInfo for a file or directory (it reads the live
	// entry, so sizes and modes stay current) or the linkInfo of a link.
	info fs.FileInfo
	// target is a link's target, verbatim.
	target string
	// entries counts a directory's files, directories and links.
	entries int
	// frozen: shared with other layers, never to be changed (memIndex).
	frozen bool
}

// NewMemRaw returns an empty in-memory Raw layer holding only "/".
func NewMemRaw() *MemRaw {
	files := afero.NewMemMapFs()
	root, err := files.Stat("/")
	if err != nil {
		panic(err) // MemMapFs always has its root
	}
	return &MemRaw{files: files, idx: newMemIndex(map[string]*memNode{"/": {kind: memDir, files: files, info: root}})}
}

// NewMem returns a View over an empty in-memory filesystem (see MemRaw).
func NewMem() *View { return New(NewMemRaw()) }

// Root returns "mem:".
func (m *MemRaw) Root() string { return "mem:" }

type memKind int

const (
	memMissing memKind = iota
	memFile
	memDir
	memLink
)

// chmodBits are the mode bits MemMapFs keeps from a perm argument.
const chmodBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// kind reports what name is; m.mu must be held.
func (m *MemRaw) kind(name string) memKind {
	if n, ok := m.idx.get(name); ok {
		return n.kind
	}
	return memMissing
}

// parentOf is the directory holding the clean absolute name ("/" for "/").
func parentOf(name string) string {
	i := strings.LastIndexByte(name, '/')
	if i <= 0 {
		return "/"
	}
	return name[:i]
}

// parentErr checks that name's parent is an existing directory; m.mu must
// be held.
func (m *MemRaw) parentErr(name string) syscall.Errno {
	switch m.kind(parentOf(name)) {
	case memDir:
		return 0
	case memMissing:
		return syscall.ENOENT
	default:
		return syscall.ENOTDIR
	}
}

// createErr checks that name can be created: EEXIST if it exists (a
// dangling link included), else parentErr; m.mu must be held.
func (m *MemRaw) createErr(name string) syscall.Errno {
	if m.kind(name) != memMissing {
		return syscall.EEXIST
	}
	return m.parentErr(name)
}

// add indexes a new name under its parent; m.mu must be held.
func (m *MemRaw) add(name string, n *memNode) {
	m.idx.set(name, n)
	if m.changed != nil {
		m.changed(name)
	}
	if name != "/" {
		m.idx.writable(parentOf(name)).entries++
	}
}

// drop removes name from the index and, when this layer holds it, from
// its MemMapFs, and reports the change; m.mu must be held.
func (m *MemRaw) drop(name string) error {
	if err := m.unindex(name); err != nil {
		return err
	}
	if m.changed != nil {
		m.changed(name)
	}
	return nil
}

// unindex is drop without the report: for an entry replaced at once, so
// that a replacement is one change, as inotify reports a rename over a
// name (one IN_MOVED_TO); m.mu must be held.
func (m *MemRaw) unindex(name string) error {
	n, _ := m.idx.get(name)
	if n.files == m.files {
		if err := m.files.Remove(name); err != nil {
			return err
		}
	}
	m.idx.del(name)
	m.idx.writable(parentOf(name)).entries--
	return nil
}

// OnChange calls fn with the clean absolute name of every entry created,
// replaced (a rename over it, ReplaceLink) or removed from now on, at the
// instant it happens, as inotify reports a directory's entries; nil stops.
// A file's content written in place is not reported.
//
// GOTCHA: fn runs with the view's lock held: it must not use the view.
func (m *MemRaw) OnChange(fn func(name string)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.changed = fn
}

// indexOwn points the node at the entry this layer's MemMapFs now holds at
// name, adding a node of kind when name is new; m.mu must be held.
func (m *MemRaw) indexOwn(name string, kind memKind) error {
	info, err := m.files.Stat(name)
	if err != nil {
		return err
	}
	m.setOwn(name, kind, info)
	return nil
}

// setOwn points the node at name (added when new) at this layer's entry
// described by info; m.mu must be held.
func (m *MemRaw) setOwn(name string, kind memKind, info fs.FileInfo) {
	if _, ok := m.idx.get(name); ok {
		n := m.idx.writable(name)
		n.files, n.info = m.files, info
		return
	}
	m.add(name, &memNode{kind: kind, files: m.files, info: info})
}

func newLink(name, target string) *memNode {
	return &memNode{kind: memLink, target: target, info: linkInfo{name: path.Base(name), size: int64(len(target))}}
}

// ownParents makes every directory above name (the root aside, which every
// MemMapFs has) an entry of this layer's MemMapFs, top down, copying the
// shared ones, so an entry can be made at name without MemMapFs inventing
// parents; m.mu must be held.
func (m *MemRaw) ownParents(name string) error {
	dir := parentOf(name)
	n, _ := m.idx.get(dir)
	if dir == "/" || n.files == m.files {
		return nil
	}
	if err := m.ownParents(dir); err != nil {
		return err
	}
	return m.copyDir(n, dir)
}

// copyDir makes the directory node n at name (parents already this
// layer's) an entry of this layer's MemMapFs with n's mode and time.
func (m *MemRaw) copyDir(n *memNode, name string) error {
	if err := m.files.Mkdir(name, n.info.Mode()&chmodBits); err != nil {
		return err
	}
	return m.keepTime(name, n.info.ModTime(), memDir)
}

// copyFile makes the file node n, read from where it is held at from, an
// entry of this layer's MemMapFs at name (parents already this layer's)
// with n's contents, mode and time.
func (m *MemRaw) copyFile(n *memNode, from, name string) error {
	data, err := readNode(n, from)
	if err != nil {
		return err
	}
	mode, mtime := n.info.Mode()&chmodBits, n.info.ModTime()
	if err := m.writeOwn(name, data, mode, true); err != nil {
		return err
	}
	return m.files.Chtimes(name, mtime, mtime)
}

// keepTime gives this layer's new entry at name the time of the one it
// copies and indexes it.
func (m *MemRaw) keepTime(name string, mtime time.Time, kind memKind) error {
	if err := m.files.Chtimes(name, mtime, mtime); err != nil {
		return err
	}
	return m.indexOwn(name, kind)
}

func memErr(op, name string, errno syscall.Errno) error {
	return &fs.PathError{Op: op, Path: name, Err: errno}
}

// memLookup looks names up in a MemRaw whose lock the caller holds.
type memLookup MemRaw

func (l *memLookup) lookup(name string) (rawEntry, error) {
	n, ok := l.idx.get(name)
	if !ok {
		return rawEntry{}, syscall.ENOENT
	}
	return rawEntry{info: n.info, dir: n.kind == memDir, link: n.kind == memLink, target: n.target}, nil
}

// Lstat describes name; a link reports fs.ModeSymlink|0777 and the length
// of its target as size, as Linux does.
func (m *MemRaw) Lstat(name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n, ok := m.idx.get(name); ok {
		return n.info, nil
	}
	return nil, memErr("lstat", name, syscall.ENOENT)
}

// Readlink returns the target of the link name verbatim; EINVAL if name is
// not a link.
func (m *MemRaw) Readlink(name string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.idx.get(name)
	switch {
	case !ok:
		return "", memErr("readlink", name, syscall.ENOENT)
	case n.kind != memLink:
		return "", memErr("readlink", name, syscall.EINVAL)
	}
	return n.target, nil
}

// Symlink records name -> target; EEXIST if name exists.
func (m *MemRaw) Symlink(target, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if errno := m.createErr(name); errno != 0 {
		return memErr("symlink", name, errno)
	}
	m.add(name, newLink(name, target))
	return nil
}

// Rename moves oldname (file, directory with its subtree and links, or
// link) to newname, replacing newname in the same critical section, with
// rename(2)'s errors. A link moves in the index alone, a file of this
// layer within its MemMapFs; a shared file and a directory's subtree are
// copied to the new names, keeping modes and times.
func (m *MemRaw) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if errno := m.renameErr(oldname, newname); errno != 0 {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: errno}
	}
	if oldname == newname {
		return nil
	}
	if err := m.rename(oldname, newname); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: cause(err)}
	}
	return nil
}

// rename does a checked Rename; m.mu must be held.
func (m *MemRaw) rename(oldname, newname string) error {
	if _, ok := m.idx.get(newname); ok {
		if err := m.unindex(newname); err != nil { // a dir here is empty; add reports newname
			return err
		}
	}
	n, _ := m.idx.get(oldname)
	switch {
	case n.kind == memLink:
		m.add(newname, newLink(newname, n.target))
	case n.kind == memDir:
		return m.renameDir(oldname, newname)
	case n.files == m.files:
		if err := m.ownParents(newname); err != nil {
			return err
		}
		// afero's FileInfo follows its file to the new name.
		if err := m.files.Rename(oldname, newname); err != nil {
			return err
		}
		m.idx.del(oldname)
		m.idx.writable(parentOf(oldname)).entries--
		m.add(newname, n)
		return nil
	default:
		if err := m.ownParents(newname); err != nil {
			return err
		}
		if err := m.copyFile(n, oldname, newname); err != nil {
			return err
		}
	}
	return m.drop(oldname)
}

// renameDir copies the directory oldname and everything below it to
// newname, then drops the old names, deepest first.
func (m *MemRaw) renameDir(oldname, newname string) error {
	if err := m.ownParents(newname); err != nil {
		return err
	}
	tree := m.below(oldname)
	for _, name := range tree {
		n, _ := m.idx.get(name)
		to := newname + strings.TrimPrefix(name, oldname)
		var err error
		switch n.kind {
		case memLink:
			m.add(to, newLink(to, n.target))
		case memDir:
			err = m.copyDir(n, to)
		default:
			err = m.copyFile(n, name, to)
		}
		if err != nil {
			return err
		}
	}
	for _, name := range slices.Backward(tree) {
		if err := m.drop(name); err != nil {
			return err
		}
	}
	return nil
}

// below lists name and every name under it, parents before their entries.
func (m *MemRaw) below(name string) []string {
	out := make([]string, 1, 16)
	out[0] = name
	m.idx.each(func(other string, _ *memNode) {
		if strings.HasPrefix(other, name+"/") {
			out = append(out, other)
		}
	})
	slices.Sort(out[1:]) // a parent sorts before the names it prefixes
	return out
}

// renameErr returns the errno rename(2) would give, 0 if it may proceed.
func (m *MemRaw) renameErr(oldname, newname string) syscall.Errno {
	from, to := m.kind(oldname), m.kind(newname)
	switch {
	case from == memMissing:
		return syscall.ENOENT
	case oldname == newname:
		return 0
	case from == memDir && (oldname == "/" || strings.HasPrefix(newname, oldname+"/")):
		return syscall.EINVAL
	case from != memDir && to == memDir:
		return syscall.EISDIR
	case from == memDir && to != memDir && to != memMissing:
		return syscall.ENOTDIR
	case to == memDir && !m.empty(newname):
		return syscall.ENOTEMPTY
	}
	return m.parentErr(newname)
}

// empty reports whether the directory dir has no files, directories and
// links.
func (m *MemRaw) empty(dir string) bool {
	n, ok := m.idx.get(dir)
	return ok && n.entries == 0
}

// replaceFile puts a new file with data and perm at name in one step, as
// writing a temporary file and renaming it over name would leave it:
// EISDIR for a directory, ENOENT/ENOTDIR for a bad parent.
func (m *MemRaw) replaceFile(name string, data []byte, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n, ok := m.idx.get(name); ok && n.kind == memFile && n.files == m.files {
		// This layer's own file: rewritten in place, it ends as a new one
		// would (contents, perm, a fresh time).
		if err := m.writeOwn(name, data, perm, false); err != nil {
			return err
		}
		if n.info.Mode()&chmodBits == perm&chmodBits {
			return nil
		}
		return m.files.Chmod(name, perm)
	}
	if err := m.clearFor(name); err != nil {
		return err
	}
	return m.writeOwn(name, data, perm, true)
}

// replaceLink puts the link name -> target in one step, as creating a
// temporary link and renaming it over name would: EISDIR for a directory,
// ENOENT/ENOTDIR for a bad parent.
func (m *MemRaw) replaceLink(target, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.clearFor(name); err != nil {
		return err
	}
	m.add(name, newLink(name, target))
	return nil
}

// clearFor removes what is at name (not a directory) so that a new entry
// can take its place; m.mu must be held.
func (m *MemRaw) clearFor(name string) error {
	if errno := m.parentErr(name); errno != 0 {
		return errno
	}
	switch m.kind(name) {
	case memMissing:
		return nil
	case memDir:
		return syscall.EISDIR
	}
	return m.unindex(name) // the caller's add reports name
}

// Remove deletes a file, a link or an empty directory.
func (m *MemRaw) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.kind(name) {
	case memMissing:
		return memErr("remove", name, syscall.ENOENT)
	case memDir:
		if name == "/" {
			return memErr("remove", name, syscall.EBUSY)
		}
		if !m.empty(name) {
			return memErr("remove", name, syscall.ENOTEMPTY)
		}
	}
	if err := m.drop(name); err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: cause(err)}
	}
	return nil
}

// Mkdir creates the directory name; EEXIST if it exists, ENOENT/ENOTDIR if
// its parent is missing or not a directory.
func (m *MemRaw) Mkdir(name string, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if errno := m.createErr(name); errno != 0 {
		return memErr("mkdir", name, errno)
	}
	err := m.ownParents(name)
	if err == nil {
		err = m.files.Mkdir(name, perm)
	}
	if err == nil {
		err = m.indexOwn(name, memDir)
	}
	return pathErrOrNil("mkdir", name, err)
}

// ReadFile returns a copy of the file's contents; a link gives ELOOP (as
// O_NOFOLLOW), a directory EISDIR.
func (m *MemRaw) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.idx.get(name)
	switch {
	case !ok:
		return nil, memErr("read", name, syscall.ENOENT)
	case n.kind == memLink:
		return nil, memErr("read", name, syscall.ELOOP)
	case n.kind == memDir:
		return nil, memErr("read", name, syscall.EISDIR)
	}
	data, err := readNode(n, name)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: cause(err)}
	}
	return data, nil
}

// readNode returns the contents of the file node n held at name, read from
// MemMapFs's file data through the node's FileInfo (no look-up by name, a
// buffer of the file's size); the caller holds the lock of the layer that
// may write it.
func readNode(n *memNode, name string) ([]byte, error) {
	fi, ok := n.info.(*mem.FileInfo)
	if !ok {
		return afero.ReadFile(n.files, name)
	}
	data := make([]byte, fi.Size())
	_, err := io.ReadFull(mem.NewReadOnlyFileHandle(fi.FileData), data)
	return data, err
}

// WriteFile creates or truncates the file name; a link gives ELOOP (as
// O_NOFOLLOW), a directory EISDIR, a missing parent ENOENT. A shared file
// is replaced by one of this layer with the same mode.
func (m *MemRaw) WriteFile(name string, data []byte, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.idx.get(name)
	switch {
	case !ok:
		if errno := m.parentErr(name); errno != 0 {
			return memErr("write", name, errno)
		}
	case n.kind == memLink:
		return memErr("write", name, syscall.ELOOP)
	case n.kind == memDir:
		return memErr("write", name, syscall.EISDIR)
	case n.files != m.files:
		perm = n.info.Mode() & chmodBits // perm applies on creation only
	}
	return pathErrOrNil("write", name, m.writeOwn(name, data, perm, !ok || n.files != m.files))
}

// writeOwn writes data to name in this layer's MemMapFs, creating it with
// perm (its parents made this layer's first) or truncating it; index
// (name new to this layer's MemMapFs) points the node at it; m.mu must be
// held.
func (m *MemRaw) writeOwn(name string, data []byte, perm fs.FileMode, index bool) error {
	if index {
		if err := m.ownParents(name); err != nil {
			return err
		}
	}
	f, err := m.files.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if index {
		// GOTCHA: a write that fails half way has created the file.
		info, serr := f.Stat()
		if serr != nil {
			return errors.Join(err, serr, f.Close())
		}
		m.setOwn(name, memFile, info)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ReadDir lists files, directories and links in name, sorted by name.
func (m *MemRaw) ReadDir(name string) ([]fs.DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, ok := m.idx.get(name)
	switch {
	case !ok:
		return nil, memErr("readdir", name, syscall.ENOENT)
	case dir.kind != memDir:
		return nil, memErr("readdir", name, syscall.ENOTDIR)
	}
	entries := make([]fs.DirEntry, 0, dir.entries)
	m.idx.each(func(other string, n *memNode) {
		if other != "/" && parentOf(other) == name {
			entries = append(entries, fs.FileInfoToDirEntry(n.info))
		}
	})
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// Clone returns a layer with the same names, contents, modes and links
// that changes independently of m from now on. Both share the index and
// every file and directory m has (m moves to a fresh MemMapFs of its
// own), so a clone copies the index's map and nothing else until either
// layer changes an entry.
func (m *MemRaw) Clone() *MemRaw {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.freeze()
	return &MemRaw{files: afero.NewMemMapFs(), idx: m.idx.clone()}
}

// freeze makes every node shared (frozen) and, when some were not, gives m
// a fresh MemMapFs, so that no shared entry is written again; m.mu must
// be held.
func (m *MemRaw) freeze() {
	if m.idx.freeze() {
		m.files = afero.NewMemMapFs()
	}
}

// graft adds src's entry at name, with everything below it, to m under
// the same names, sharing src's nodes, files and directories (see Clone).
// name must be missing in m and its parent a directory: EEXIST, ENOENT or
// ENOTDIR otherwise; ENOENT when src has no name.
func (m *MemRaw) graft(src *MemRaw, name string) error {
	if src == m {
		return memErr("copytree", name, syscall.EEXIST)
	}
	names, nodes := src.subtree(name)
	if names == nil {
		return memErr("copytree", name, syscall.ENOENT)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if errno := m.createErr(name); errno != 0 {
		return memErr("copytree", name, errno)
	}
	m.add(name, nodes[0]) // the nodes below keep their own entry counts
	for i, other := range names[1:] {
		m.idx.set(other, nodes[i+1])
	}
	return nil
}

// subtree returns the names and shared nodes of name and everything below
// it (nil when name is missing), parents first.
func (m *MemRaw) subtree(name string) ([]string, []*memNode) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.idx.get(name); !ok {
		return nil, nil
	}
	m.freeze()
	if t, ok := m.subtrees[name]; ok && t.version == m.idx.version {
		return t.names, t.nodes
	}
	names := m.below(name)
	nodes := make([]*memNode, len(names))
	for i, other := range names {
		nodes[i], _ = m.idx.get(other)
	}
	if m.subtrees == nil {
		m.subtrees = map[string]subtree{}
	}
	m.subtrees[name] = subtree{version: m.idx.version, names: names, nodes: nodes}
	return names, nodes
}

// linkInfo is the fs.FileInfo of a MemRaw link. ModTime is the zero time so
// listings stay deterministic.
type linkInfo struct {
	name string
	size int64
}

func (l linkInfo) Name() string       { return l.name }
func (l linkInfo) Size() int64        { return l.size }
func (l linkInfo) Mode() fs.FileMode  { return fs.ModeSymlink | 0o777 }
func (l linkInfo) ModTime() time.Time { return time.Time{} }
func (l linkInfo) IsDir() bool        { return false }
func (l linkInfo) Sys() any           { return nil }
