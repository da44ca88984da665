package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// MaxRecordSize bounds the in-flight record read from disk, in bytes
// (1 MiB; a real record is well under 4 KiB).
const MaxRecordSize = 1 << 20

// RecordPerm and StateDirPerm are the modes of the record (it holds --meta
// values) and of the state directory: readable by the agent's user only.
const (
	RecordPerm   fs.FileMode = 0o600
	StateDirPerm fs.FileMode = 0o700
)

// maxKeptAside bounds the kept-aside names tried for one corrupt record.
const maxKeptAside = 1000

// DecodeRecord parses a record as stored: JSON of this RecordVersion with a
// known op. Errors describe the first problem found (never a panic, for
// any input).
func DecodeRecord(data []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	if r.Version != RecordVersion {
		return nil, fmt.Errorf("format version %d, this binary reads %d", r.Version, RecordVersion)
	}
	if r.Op != OpActivate && r.Op != OpRollback {
		return nil, fmt.Errorf("unknown op %q", r.Op)
	}
	return &r, nil
}

// Peek reads the record as Load does but changes nothing: a corrupt record
// is reported (*CorruptRecordError with an empty KeptAt) and left where it
// is. status uses it.
func (j FileJournal) Peek() (*Record, error) {
	return j.readRecord()
}

// readRecord reads and decodes the record without changing anything. The
// state directory must pass CheckDir; the record must be a regular file
// (not a link, FIFO or device: *BadEnvironmentError) of at most
// MaxRecordSize bytes (longer: *CorruptRecordError).
func (j FileJournal) readRecord() (*Record, error) {
	if err := j.CheckDir(false); err != nil {
		return nil, err
	}
	data, err := j.FS.ReadRegular(j.file(), MaxRecordSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case errors.Is(err, fsview.ErrTooLarge):
		return nil, &CorruptRecordError{Path: j.file(), Err: err}
	case errors.Is(err, syscall.ELOOP), errors.Is(err, fsview.ErrNotRegular):
		return nil, &BadEnvironmentError{What: "in-flight record " + j.file(),
			Why: "is not a regular file (" + errCause(err) + "); refusing to read or replace it: remove it"}
	case err != nil:
		return nil, err
	}
	r, err := DecodeRecord(data)
	if err != nil {
		return nil, &CorruptRecordError{Path: j.file(), Err: err}
	}
	return r, nil
}

// CheckDir refuses a state directory another user could steer: Dir must be
// an absolute path naming a directory itself (not a link to one), owned by
// UID, not writable by group or others. A missing Dir is created with
// StateDirPerm when create is set, else fine (there is no record).
// Errors: *BadEnvironmentError, or the view's error.
func (j FileJournal) CheckDir(create bool) error {
	what := "state directory " + j.Dir
	if j.Dir == "" || j.Dir[0] != '/' {
		return &BadEnvironmentError{What: "state directory " + fmt.Sprintf("%q", j.Dir), Why: "must be an absolute path"}
	}
	info, err := j.FS.Lstat(j.Dir)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err := j.FS.MkdirAll(j.Dir, StateDirPerm); err != nil {
			return err
		}
		info, err = j.FS.Lstat(j.Dir)
	}
	switch {
	case errors.Is(err, syscall.ENOTDIR):
		return &BadEnvironmentError{What: what, Why: "a component of the path is not a directory"}
	case errors.Is(err, fs.ErrNotExist) && !create:
		return nil
	case err != nil:
		return err
	}
	return checkDirInfo(what, info, j.UID)
}

// checkDirInfo applies CheckDir's rules to the state directory's Lstat.
func checkDirInfo(what string, info fs.FileInfo, uid int) error {
	bad := func(why string) error { return &BadEnvironmentError{What: what, Why: why} }
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		return bad("is a symbolic link; give the real directory")
	case !info.IsDir():
		return bad("is not a directory")
	case info.Mode().Perm()&0o022 != 0:
		return bad(fmt.Sprintf("is writable by group or others (mode %04o); want 0700", info.Mode().Perm()))
	}
	if owner, ok := fsview.OwnerUID(info); ok && owner != uid {
		return bad(fmt.Sprintf("is owned by uid %d, not by the running user (uid %d)", owner, uid))
	}
	return nil
}

// errCause is the innermost message of a path error.
func errCause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
