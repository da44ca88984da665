package fsview

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrNotRegular is returned (wrapped in *fs.PathError) by ReadRegular for a
// name that is a link, directory, FIFO, socket or device.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is returned (wrapped in *fs.PathError) by ReadRegular for a
// file longer than its bound.
var ErrTooLarge = errors.New("file too large")

// ReadRegular returns the contents of name only if name itself (its final
// component not followed) is a regular file of at most max bytes. A link
// gives syscall.ELOOP; any other non-regular file ErrNotRegular, decided
// from fstat(2) of a descriptor opened with O_NOFOLLOW|O_NONBLOCK, so a
// FIFO or a device never blocks the reader; a longer file ErrTooLarge.
// A missing name satisfies errors.Is(err, fs.ErrNotExist).
func (v *View) ReadRegular(name string, max int64) ([]byte, error) {
	const op = "readregular"
	p, _, err := v.resolveExisting(op, name, false)
	if err != nil {
		return nil, err
	}
	if r := v.opt.RegularReader; r != nil {
		data, err := r.ReadRegular(p, max)
		return data, pathErrOrNil(op, name, err)
	}
	info, err := v.raw.Lstat(p)
	if err != nil {
		return nil, pathErr(op, name, err)
	}
	if err := regularWithin(info, max); err != nil {
		return nil, pathErr(op, name, err)
	}
	data, err := v.raw.ReadFile(p)
	return data, pathErrOrNil(op, name, err)
}

// regularWithin checks a final component's Lstat for ReadRegular.
func regularWithin(info fs.FileInfo, max int64) error {
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		return syscall.ELOOP
	case !info.Mode().IsRegular():
		return fmt.Errorf("%w (%s)", ErrNotRegular, fileType(info.Mode()))
	case info.Size() > max:
		return fmt.Errorf("%w: %d bytes, at most %d read", ErrTooLarge, info.Size(), max)
	}
	return nil
}

// fileType names a mode's file type for messages.
func fileType(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "irregular file"
}

// ReadRegular implements RegularReader: it opens the raw name without
// following a link or blocking, and reads it only when fstat(2) says it is
// a regular file within max.
func (o *OSRaw) ReadRegular(name string, max int64) ([]byte, error) {
	// GOTCHA: O_NONBLOCK: opening a FIFO for reading blocks until a writer
	// comes along; with it, open returns at once and fstat tells.
	f, err := os.OpenFile(o.host(name), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, cause(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, cause(err)
	}
	if err := regularWithin(info, max); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(data)) > max {
		err = fmt.Errorf("%w: grew past %d bytes while read", ErrTooLarge, max)
	}
	return data, err
}

// ReplaceFile replaces name with a new regular file holding data, mode
// perm exactly (not reduced by the umask), atomically and durably like
// WriteFileAtomic, but without following a link at name: a link there is
// itself replaced, its target never opened. A FileReplacer layer does it
// by itself (OSRaw creates its temporary file with
// O_CREAT|O_EXCL|O_NOFOLLOW, so nothing planted under its random name is
// written through either); over another Raw layer the temporary file is
// written with Raw.WriteFile (which never follows a link) and renamed
// over name.
func (v *View) ReplaceFile(name string, data []byte, perm fs.FileMode) error {
	return v.replaceFile(name, data, perm, true)
}

// replaceFile is ReplaceFile; syncDir false leaves out the directory's
// sync on OSRaw (ReplaceFileUnsyncedName).
func (v *View) replaceFile(name string, data []byte, perm fs.FileMode, syncDir bool) error {
	const op = "replacefile"
	p, info, err := v.resolve(op, name, false)
	if err != nil {
		return err
	}
	if info != nil && info.IsDir() {
		return &fs.PathError{Op: op, Path: name, Err: syscall.EISDIR}
	}
	if !syncDir {
		if r := v.opt.UnsyncedFileReplacer; r != nil {
			return pathErrOrNil(op, name, r.ReplaceFileUnsyncedName(p, data, perm))
		}
	}
	return v.replaceFileAt(op, name, p, data, perm)
}

// ReplaceFile implements FileReplacer: it writes a fresh temporary beside
// name (O_CREAT|O_EXCL|O_NOFOLLOW), syncs it, renames it over name (a link
// there included) and syncs the directory.
func (o *OSRaw) ReplaceFile(name string, data []byte, perm fs.FileMode) error {
	return o.replaceFile(name, data, perm, true)
}

// ReplaceFileUnsyncedName implements UnsyncedFileReplacer: ReplaceFile
// without the directory's sync after the rename.
func (o *OSRaw) ReplaceFileUnsyncedName(name string, data []byte, perm fs.FileMode) error {
	return o.replaceFile(name, data, perm, false)
}

// replaceFile writes a fresh temporary beside name, syncs it, renames it
// over name (a link there included) and, with syncDir, syncs the directory.
func (o *OSRaw) replaceFile(name string, data []byte, perm fs.FileMode, syncDir bool) error {
	tmp := tempName(name)
	f, err := os.OpenFile(o.host(tmp), os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, perm)
	if err != nil {
		return cause(err)
	}
	_, werr := f.Write(data)
	werr = errors.Join(werr, f.Chmod(perm), f.Sync(), f.Close())
	if werr != nil {
		_ = os.Remove(o.host(tmp))
		return cause(werr)
	}
	// LOADBEARING: rename(2) replaces a link at name as an entry; the
	// synced temporary keeps a crash from exposing an empty record.
	if err := syscall.Rename(o.host(tmp), o.host(name)); err != nil {
		_ = os.Remove(o.host(tmp))
		return err
	}
	if !syncDir {
		return nil
	}
	return o.Sync(parentOf(name))
}

// RenameNoReplace moves oldname to newname (links in either final component
// renamed, not followed) and fails with syscall.EEXIST when newname exists,
// as renameat2(2) with RENAME_NOREPLACE (Linux 3.15+) does.
func (v *View) RenameNoReplace(oldname, newname string) error {
	const op = "rename"
	oldp, _, err := v.resolve(op, oldname, false)
	if err != nil {
		return linkErr(op, oldname, newname, err)
	}
	newp, info, err := v.resolve(op, newname, false)
	if err != nil {
		return linkErr(op, oldname, newname, err)
	}
	if r := v.opt.NoReplaceRenamer; r != nil {
		err = r.RenameNoReplace(oldp, newp)
	} else if info != nil {
		err = syscall.EEXIST
	} else {
		err = v.raw.Rename(oldp, newp)
	}
	if err != nil {
		return linkErr(op, oldname, newname, err)
	}
	return nil
}

// RenameNoReplace implements NoReplaceRenamer with renameat2(2).
func (o *OSRaw) RenameNoReplace(oldname, newname string) error {
	return unix.Renameat2(unix.AT_FDCWD, o.host(oldname), unix.AT_FDCWD, o.host(newname), unix.RENAME_NOREPLACE)
}

// OwnerUID returns the owner's user id from a FileInfo of the OS view
// (syscall.Stat_t). The in-memory view has no owners: ok is false.
func OwnerUID(info fs.FileInfo) (uid int, ok bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
