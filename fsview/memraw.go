package fsview

import (
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/afero"
)

// MemRaw is the in-memory Raw layer. Its names live in an index, one map
// from clean absolute names to nodes (a directory, a link with its target
// verbatim, or a file); a file's bytes live in afero's MemMapFs, used as a
// byte store of blobs named by number (MemMapFs has no symlinks,
// spf13/afero#258, and an index of whole names answers most resolutions
// in a few look-ups: SymlinkIndex). It checks what Linux checks (a parent
// must exist and be a directory; a directory must be empty to be removed;
// rename(2)'s EINVAL, EISDIR, ENOTDIR and ENOTEMPTY), so it fails like
// Linux. One mutex makes every operation atomic, so it is safe for
// concurrent use and Rename, ReplaceFile and ReplaceLink are atomic to
// other callers. It implements SymlinkIndex, Sharer, FileReplacer,
// LinkReplacer and ChangeNotifier.
//
// Sharing (Clone, Graft) costs one index entry per name: a node is never
// changed once indexed (a change indexes a new node), so layers share
// nodes freely; a blob is written or removed only by the layer whose
// current store holds it, and a layer that shares its nodes starts a fresh
// store, so a shared blob is never written again.
type MemRaw struct {
	mu    sync.Mutex
	nodes map[string]*memNode
	// store holds the blobs this layer may write; nil until the first
	// write after a share.
	store afero.Fs
	// next numbers the blobs this layer makes.
	next uint64
	// changed, when set, is told every name created, replaced or removed
	// (OnChange); a clone does not inherit it.
	changed func(name string)
}

// memNode is one indexed name, also its fs.FileInfo (links: zero ModTime,
// so listings stay deterministic; directories: size 0).
type memNode struct {
	name  string // the base name
	mode  fs.FileMode
	mtime time.Time
	// size is a file's length or a link's target's (as Linux reports it).
	size   int64
	target string
	// store and blob locate a file's bytes.
	store afero.Fs
	blob  string
}

func (n *memNode) Name() string       { return n.name }
func (n *memNode) Size() int64        { return n.size }
func (n *memNode) Mode() fs.FileMode  { return n.mode }
func (n *memNode) ModTime() time.Time { return n.mtime }
func (n *memNode) IsDir() bool        { return n.mode.IsDir() }
func (n *memNode) Sys() any           { return nil }

func (n *memNode) isLink() bool { return n.mode&fs.ModeSymlink != 0 }

// renamed is n under another base name.
func (n *memNode) renamed(name string) *memNode {
	c := *n
	c.name = path.Base(name)
	return &c
}

func newLink(name, target string) *memNode {
	return &memNode{name: path.Base(name), mode: fs.ModeSymlink | 0o777, size: int64(len(target)), target: target}
}

// chmodBits are the mode bits a perm argument sets.
const chmodBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// NewMemRaw returns an empty in-memory Raw layer holding only "/".
func NewMemRaw() *MemRaw {
	return &MemRaw{nodes: map[string]*memNode{"/": {name: "/", mode: fs.ModeDir | 0o755, mtime: time.Now()}}}
}

// NewMem returns a View over an empty in-memory filesystem (see MemRaw).
func NewMem() *View { return New(NewMemRaw()) }

// Root returns "mem:".
func (m *MemRaw) Root() string { return "mem:" }

func memErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// parentErr checks that name's parent is an existing directory; m.mu must
// be held.
func (m *MemRaw) parentErr(name string) error {
	switch p, ok := m.nodes[parentOf(name)]; {
	case !ok:
		return syscall.ENOENT
	case !p.IsDir():
		return syscall.ENOTDIR
	}
	return nil
}

// createErr checks that name can be created: EEXIST if it exists (a
// dangling link included), else parentErr; m.mu must be held.
func (m *MemRaw) createErr(name string) error {
	if _, ok := m.nodes[name]; ok {
		return syscall.EEXIST
	}
	return m.parentErr(name)
}

// replaceErr checks that a file or link may take name's place: EISDIR
// for a directory, else parentErr; m.mu must be held.
func (m *MemRaw) replaceErr(name string) error {
	if n, ok := m.nodes[name]; ok && n.IsDir() {
		return syscall.EISDIR
	}
	return m.parentErr(name)
}

// own reports whether n's blob is this layer's to write or remove.
func (m *MemRaw) own(n *memNode) bool { return n.store != nil && n.store == m.store }

// put indexes n at name, removing the blob of what it replaces when that
// is this layer's and not n's; m.mu must be held.
func (m *MemRaw) put(name string, n *memNode) {
	if old, ok := m.nodes[name]; ok && m.own(old) && old.blob != n.blob {
		_ = m.store.Remove(old.blob) // MemMapFs removes a present name without error
	}
	m.nodes[name] = n
}

// drop removes name from the index (and its blob, when this layer's);
// m.mu must be held.
func (m *MemRaw) drop(name string) {
	if n := m.nodes[name]; m.own(n) {
		_ = m.store.Remove(n.blob) // as in put
	}
	delete(m.nodes, name)
}

// report tells the OnChange function that name changed; m.mu must be held.
func (m *MemRaw) report(name string) {
	if m.changed != nil {
		m.changed(name)
	}
}

// OnChange calls fn with the clean absolute name of every entry created,
// replaced (a rename over it, ReplaceFile, ReplaceLink) or removed from
// now on, at the instant it happens, as inotify reports a directory's
// entries; nil stops. A file's contents written in place (WriteFile over
// an existing file) are not reported.
//
// GOTCHA: fn runs with the layer's lock held: it must not use the view.
func (m *MemRaw) OnChange(fn func(name string)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.changed = fn
}

// Longest implements SymlinkIndex.
func (m *MemRaw) Longest(name string) (string, fs.FileInfo, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for q := name; ; q = parentOf(q) {
		if n, ok := m.nodes[q]; ok {
			return q, n, n.target
		}
		if q == "/" {
			return q, nil, "" // GOTCHA: never a nil *memNode in a non-nil interface
		}
	}
}

// get returns the node at name under the lock.
func (m *MemRaw) get(name string) (*memNode, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[name]
	return n, ok
}

// Lstat describes name; a link reports fs.ModeSymlink|0777 and the length
// of its target as size, as Linux does.
func (m *MemRaw) Lstat(name string) (fs.FileInfo, error) {
	n, ok := m.get(name)
	if !ok {
		return nil, memErr("lstat", name, syscall.ENOENT)
	}
	return n, nil
}

// Readlink returns the target of the link name verbatim; EINVAL if name is
// not a link.
func (m *MemRaw) Readlink(name string) (string, error) {
	n, ok := m.get(name)
	switch {
	case !ok:
		return "", memErr("readlink", name, syscall.ENOENT)
	case !n.isLink():
		return "", memErr("readlink", name, syscall.EINVAL)
	}
	return n.target, nil
}

// Symlink records name -> target; EEXIST if name exists.
func (m *MemRaw) Symlink(target, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.createErr(name); err != nil {
		return memErr("symlink", name, err)
	}
	m.put(name, newLink(name, target))
	m.report(name)
	return nil
}

// Mkdir creates the directory name; EEXIST if it exists, ENOENT/ENOTDIR if
// its parent is missing or not a directory.
func (m *MemRaw) Mkdir(name string, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.createErr(name); err != nil {
		return memErr("mkdir", name, err)
	}
	m.put(name, &memNode{name: path.Base(name), mode: fs.ModeDir | perm&chmodBits, mtime: time.Now()})
	m.report(name)
	return nil
}

// hasEntries reports whether anything is indexed below dir; m.mu must be
// held.
func (m *MemRaw) hasEntries(dir string) bool {
	for name := range m.nodes {
		if isBelow(name, dir) {
			return true
		}
	}
	return false
}

// isBelow reports whether the clean absolute name is under dir.
func isBelow(name, dir string) bool {
	if dir == "/" {
		return name != "/"
	}
	return len(name) > len(dir)+1 && name[len(dir)] == '/' && strings.HasPrefix(name, dir)
}

// Remove deletes a file, a link or an empty directory.
func (m *MemRaw) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[name]
	switch {
	case !ok:
		return memErr("remove", name, syscall.ENOENT)
	case name == "/":
		return memErr("remove", name, syscall.EBUSY)
	case n.IsDir() && m.hasEntries(name):
		return memErr("remove", name, syscall.ENOTEMPTY)
	}
	m.drop(name)
	m.report(name)
	return nil
}

// Rename moves oldname (file, link, or directory with everything below
// it) to newname, replacing newname in the same critical section, with
// rename(2)'s errors. Nothing is copied: the nodes move in the index.
func (m *MemRaw) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.renameErr(oldname, newname); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	if oldname == newname {
		return nil
	}
	n := m.nodes[oldname]
	var below []string
	if n.IsDir() {
		below = m.below(oldname)
	}
	m.put(newname, n.renamed(newname)) // a directory replaced here is empty
	delete(m.nodes, oldname)
	m.report(newname)
	m.report(oldname)
	for _, name := range below {
		to := newname + name[len(oldname):]
		m.nodes[to] = m.nodes[name] // base names stay
		delete(m.nodes, name)
		m.report(to)
		m.report(name)
	}
	return nil
}

// below lists every name under dir; m.mu must be held.
func (m *MemRaw) below(dir string) []string {
	var out []string
	for name := range m.nodes {
		if isBelow(name, dir) {
			out = append(out, name)
		}
	}
	return out
}

// renameErr returns the errno rename(2) would give, nil if it may proceed;
// m.mu must be held.
func (m *MemRaw) renameErr(oldname, newname string) error {
	from, ok := m.nodes[oldname]
	to, exists := m.nodes[newname]
	switch {
	case !ok:
		return syscall.ENOENT
	case oldname == newname:
		return nil
	case from.IsDir() && (oldname == "/" || strings.HasPrefix(newname, oldname+"/")):
		return syscall.EINVAL
	case exists && !from.IsDir() && to.IsDir():
		return syscall.EISDIR
	case exists && from.IsDir() && !to.IsDir():
		return syscall.ENOTDIR
	case exists && to.IsDir() && m.hasEntries(newname):
		return syscall.ENOTEMPTY
	}
	return m.parentErr(newname)
}

// ReadFile returns a copy of the file's contents; a link gives ELOOP (as
// O_NOFOLLOW), a directory EISDIR.
func (m *MemRaw) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[name]
	switch {
	case !ok:
		return nil, memErr("read", name, syscall.ENOENT)
	case n.isLink():
		return nil, memErr("read", name, syscall.ELOOP)
	case n.IsDir():
		return nil, memErr("read", name, syscall.EISDIR)
	}
	data, err := readBlob(n)
	if err != nil {
		return nil, memErr("read", name, cause(err))
	}
	return data, nil
}

// readBlob returns a copy of the file node n's bytes, into a buffer of its
// size.
func readBlob(n *memNode) ([]byte, error) {
	f, err := n.store.Open(n.blob)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data := make([]byte, n.size)
	_, err = io.ReadFull(f, data)
	return data, err
}

// WriteFile creates or truncates the file name; a link gives ELOOP (as
// O_NOFOLLOW), a directory EISDIR, a missing parent ENOENT. perm applies
// on creation only. Only a new name is reported (OnChange).
func (m *MemRaw) WriteFile(name string, data []byte, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[name]
	switch {
	case !ok:
		if err := m.parentErr(name); err != nil {
			return memErr("write", name, err)
		}
	case n.isLink():
		return memErr("write", name, syscall.ELOOP)
	case n.IsDir():
		return memErr("write", name, syscall.EISDIR)
	default:
		perm = n.mode
	}
	if err := m.writeFile(name, data, perm); err != nil {
		return memErr("write", name, cause(err))
	}
	if !ok {
		m.report(name)
	}
	return nil
}

// ReplaceFile implements FileReplacer in one step: a new file with data
// and exactly perm at name, as writing a temporary file and renaming it
// over name would leave it.
func (m *MemRaw) ReplaceFile(name string, data []byte, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.replaceErr(name); err != nil {
		return memErr("replace", name, err)
	}
	if err := m.writeFile(name, data, perm); err != nil {
		return memErr("replace", name, cause(err))
	}
	m.report(name)
	return nil
}

// ReplaceLink implements LinkReplacer in one step, as creating a temporary
// link and renaming it over name would leave it.
func (m *MemRaw) ReplaceLink(target, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.replaceErr(name); err != nil {
		return memErr("replace", name, err)
	}
	m.put(name, newLink(name, target))
	m.report(name)
	return nil
}

// writeFile indexes a file node with data, mode perm and a fresh time at
// name (which is missing, a file or a link), rewriting the blob of the
// file there when it is this layer's, else writing a new blob; m.mu must
// be held.
func (m *MemRaw) writeFile(name string, data []byte, perm fs.FileMode) error {
	n := &memNode{name: path.Base(name), mode: perm & chmodBits, size: int64(len(data))}
	if old, ok := m.nodes[name]; ok && m.own(old) {
		n.blob = old.blob
	} else {
		if m.store == nil {
			m.store = afero.NewMemMapFs()
		}
		m.next++
		n.blob = "/" + strconv.FormatUint(m.next, 36)
	}
	n.store = m.store
	if err := afero.WriteFile(m.store, n.blob, data, 0o600); err != nil {
		return err
	}
	n.mtime = time.Now()
	m.put(name, n)
	return nil
}

// ReadDir lists files, directories and links in name, sorted by name.
func (m *MemRaw) ReadDir(name string) ([]fs.DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, ok := m.nodes[name]
	switch {
	case !ok:
		return nil, memErr("readdir", name, syscall.ENOENT)
	case !dir.IsDir():
		return nil, memErr("readdir", name, syscall.ENOTDIR)
	}
	var entries []fs.DirEntry
	for other, n := range m.nodes {
		if other != "/" && parentOf(other) == name {
			entries = append(entries, fs.FileInfoToDirEntry(n))
		}
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// Clone implements Sharer: the clone shares every node; both layers write
// fresh blobs from now on.
func (m *MemRaw) Clone() Raw {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.store = nil // LOADBEARING: the shared blobs are never written again
	return &MemRaw{nodes: maps.Clone(m.nodes)}
}

// Graft implements Sharer for a src that is a *MemRaw.
func (m *MemRaw) Graft(src Raw, name string) error {
	const op = "graft"
	s, ok := src.(*MemRaw)
	switch {
	case !ok:
		return memErr(op, name, ErrNotMem)
	case s == m:
		return memErr(op, name, syscall.EEXIST)
	}
	names, nodes := s.share(name)
	if names == nil {
		return memErr(op, name, syscall.ENOENT)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.createErr(name); err != nil {
		return memErr(op, name, err)
	}
	for i, other := range names {
		m.nodes[other] = nodes[i]
	}
	m.report(name)
	return nil
}

// share returns name and every name below it with their nodes (nil when
// name is missing), which m never writes again.
func (m *MemRaw) share(name string) ([]string, []*memNode) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.nodes[name]; !ok {
		return nil, nil
	}
	m.store = nil // as in Clone
	names := append(m.below(name), name)
	nodes := make([]*memNode, len(names))
	for i, other := range names {
		nodes[i] = m.nodes[other]
	}
	return names, nodes
}
