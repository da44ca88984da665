package sim

import (
	"cmp"
	"errors"
	"io/fs"
	"path"
	"strings"
	"syscall"

	"github.com/nixfleet/nixfleet-activate/fsview"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// StateDir is the agent's state directory (pipeline.DefaultStateDir: the
// in-flight record, the last activation, the confirmation) as a filesystem
// that can fail the way a full or read-only one does: an fsview.Raw over
// the host's view, failing changes in and above the directory (Fail). Wire
// the pipeline's state files to its FS; the journal faults of the explorer
// and of the scenario language's `journal full|read-only|writable` are
// both this one model.
//
// GOTCHA: the names a View hands its Raw are resolved already, so only a
// link in the final component would be followed here where a real Raw would
// not (the state directory holds none).
type StateDir struct {
	v   *fsview.View
	dir string
	// fault is the errno every affected change gets (nil: none).
	fault error
	// after counts record writes (committed by their rename) that still
	// succeed before fault applies.
	after int
	fs    *fsview.View
}

var (
	_ fsview.Raw          = (*StateDir)(nil)
	_ fsview.FileReplacer = (*StateDir)(nil)
)

// NewStateDir returns the state directory dir of the host view v, without
// faults.
func NewStateDir(v *fsview.View, dir string) *StateDir {
	d := &StateDir{v: v, dir: dir}
	d.fs = fsview.New(d)
	return d
}

// Fail makes every later change in and above the directory fail with
// errno, once after more record writes (pipeline.RecordFile, committed by
// the rename of View.WriteFileAtomic) have succeeded: syscall.ENOSPC for a
// full filesystem (creating or writing files and directories fails; an
// empty file is still created, as open(2) succeeds; removing and renaming
// work), syscall.EROFS for a read-only one (every change fails); nil lifts
// the fault.
func (d *StateDir) Fail(errno error, after int) { d.fault, d.after = errno, after }

// FS is the view of the host through the state directory's faults.
func (d *StateDir) FS() *fsview.View { return d.fs }

// Dir is the state directory's path.
func (d *StateDir) Dir() string { return d.dir }

// faulty returns the fault a change of name gets: names in the state
// directory, and the directory and its parents for mkdir.
func (d *StateDir) faulty(name string) error {
	if d.fault == nil || d.after > 0 {
		return nil
	}
	if name == d.dir || strings.HasPrefix(name, d.dir+"/") || strings.HasPrefix(d.dir, name+"/") {
		return d.fault
	}
	return nil
}

// Lstat implements fsview.Raw.
func (d *StateDir) Lstat(name string) (fs.FileInfo, error) { return d.v.Lstat(name) }

// Readlink implements fsview.Raw.
func (d *StateDir) Readlink(name string) (string, error) { return d.v.Readlink(name) }

// ReadFile implements fsview.Raw.
func (d *StateDir) ReadFile(name string) ([]byte, error) { return d.v.ReadFile(name) }

// ReadDir implements fsview.Raw.
func (d *StateDir) ReadDir(name string) ([]fs.DirEntry, error) { return d.v.ReadDir(name) }

// Root implements fsview.Raw.
func (d *StateDir) Root() string { return d.v.Root() }

// Symlink implements fsview.Raw; it fails on a read-only directory.
func (d *StateDir) Symlink(target, name string) error {
	if err := d.readOnly(name); err != nil {
		return &fs.PathError{Op: "symlink", Path: name, Err: err}
	}
	return d.v.Symlink(target, name)
}

// Rename implements fsview.Raw; it fails on a read-only directory.
func (d *StateDir) Rename(oldname, newname string) error {
	if err := cmp.Or(d.readOnly(oldname), d.readOnly(newname)); err != nil {
		return &fs.PathError{Op: "rename", Path: oldname, Err: err}
	}
	if err := d.v.Rename(oldname, newname); err != nil {
		return err
	}
	// The rename commits one record write (View.WriteFileAtomic).
	if d.fault != nil && d.after > 0 && newname == path.Join(d.dir, pipeline.RecordFile) {
		d.after--
	}
	return nil
}

// Remove implements fsview.Raw; it fails on a read-only directory.
func (d *StateDir) Remove(name string) error {
	if err := d.readOnly(name); err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	return d.v.Remove(name)
}

// Mkdir implements fsview.Raw: it creates one directory (its parent
// exists: View.MkdirAll goes component by component).
func (d *StateDir) Mkdir(name string, perm fs.FileMode) error {
	if _, err := d.v.Lstat(name); err == nil {
		return &fs.PathError{Op: "mkdir", Path: name, Err: syscall.EEXIST}
	}
	if err := d.faulty(name); err != nil {
		return &fs.PathError{Op: "mkdir", Path: name, Err: err}
	}
	return d.v.MkdirAll(name, perm)
}

// WriteFile implements fsview.Raw. It fails on a full filesystem after
// creating the file empty, as open(O_CREAT) succeeds and write(2) gets
// ENOSPC.
func (d *StateDir) WriteFile(name string, data []byte, perm fs.FileMode) error {
	switch err := d.faulty(name); {
	case errors.Is(err, syscall.ENOSPC):
		if cerr := d.v.WriteFile(name, nil, perm); cerr != nil {
			return cerr
		}
		return &fs.PathError{Op: "write", Path: name, Err: err}
	case err != nil:
		return &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return d.v.WriteFile(name, data, perm)
}

// ReplaceFile implements fsview.FileReplacer. Without a fault the host
// view replaces name in one step (its own FileReplacer: the explorer writes
// a record at every step, and the write plus rename over this layer cost a
// tenth of its time); with one, a temporary beside name goes through the
// faulty WriteFile and Rename, as a View over a plain Raw does, and is
// removed when either fails.
func (d *StateDir) ReplaceFile(name string, data []byte, perm fs.FileMode) error {
	if d.fault == nil {
		return d.v.ReplaceFile(name, data, perm)
	}
	tmp := path.Join(path.Dir(name), "."+path.Base(name)+".tmp-statedir")
	if err := d.WriteFile(tmp, data, perm); err != nil {
		_ = d.v.Remove(tmp)
		return err
	}
	if err := d.Rename(tmp, name); err != nil {
		_ = d.v.Remove(tmp)
		return err
	}
	return nil
}

// readOnly is the fault of a change that frees space (rename, remove):
// only a read-only filesystem refuses it.
func (d *StateDir) readOnly(name string) error {
	if err := d.faulty(name); errors.Is(err, syscall.EROFS) {
		return err
	}
	return nil
}

// Journal is the agent's in-flight record in the directory, as the binary
// wires it (FileJournal.Now nil).
func (d *StateDir) Journal() pipeline.FileJournal {
	return pipeline.FileJournal{FS: d.fs, Dir: d.dir}
}

// LastActivation is the agent's last-activation file in the directory.
func (d *StateDir) LastActivation() pipeline.FileLastActivation {
	return pipeline.FileLastActivation{FS: d.fs, Dir: d.dir}
}

// Confirm is the operator's confirmation file in the directory.
func (d *StateDir) Confirm() pipeline.FileConfirm {
	return pipeline.FileConfirm{FS: d.fs, Dir: d.dir}
}
