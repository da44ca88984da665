package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"time"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// ConfirmFile is the confirmation's file name inside the state directory,
// next to RecordFile.
const ConfirmFile = "confirm.json"

// Confirmation is what `nixfleet-activate confirm` writes for the in-flight
// activation it confirms.
type Confirmation struct {
	// Closure is the confirmed activation's closure basename: a
	// confirmation counts only for the run of that closure.
	Closure string `json:"closure"`
	// StartedAt is the confirmed run's start (its record's started_at), so
	// a confirmation of an earlier run of the same closure does not count.
	StartedAt time.Time `json:"started_at"`
	// At is when the confirmation was written.
	At time.Time `json:"at"`
}

// ConfirmStore keeps at most one Confirmation.
type ConfirmStore interface {
	// Load returns the confirmation, nil when there is none.
	Load() (*Confirmation, error)
	// Save replaces it durably (atomic, fsynced).
	Save(Confirmation) error
	// Clear removes it; none is not an error.
	Clear() error
}

// FileConfirm stores the confirmation as JSON in Dir/ConfirmFile, with the
// in-flight record's hardened reads and writes (CheckDir, regular file,
// bounded size, atomic replace).
type FileConfirm struct {
	FS  *fsview.View
	Dir string
	// UID is the user that must own Dir, as FileJournal.UID.
	UID int
}

func (f FileConfirm) file() string { return path.Join(f.Dir, ConfirmFile) }

// Load reads the confirmation. Errors: *BadEnvironmentError, the view's
// read error, or bad JSON.
func (f FileConfirm) Load() (*Confirmation, error) {
	var c Confirmation
	found, err := loadStateFile(f.FS, f.Dir, f.file(), f.UID, &c)
	if !found || err != nil {
		return nil, err
	}
	return &c, nil
}

// loadStateFile decodes the JSON of a state file into value, under the
// in-flight record's rules: dir must pass CheckDir (as owned by uid), file
// must be a regular file of at most MaxRecordSize bytes. found is false
// when there is no file. Errors: *BadEnvironmentError, the view's read
// error, bad JSON (each naming file but the first).
func loadStateFile(v *fsview.View, dir, file string, uid int, value any) (found bool, err error) {
	if err := (FileJournal{FS: v, Dir: dir, UID: uid}).CheckDir(false); err != nil {
		return false, err
	}
	data, err := v.ReadRegular(file, MaxRecordSize)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", file, err)
	}
	if err := json.Unmarshal(data, value); err != nil {
		return false, fmt.Errorf("%s: %w", file, err)
	}
	return true, nil
}

// Save writes the confirmation as FileJournal.Save writes the record.
func (f FileConfirm) Save(c Confirmation) error {
	return saveStateFile(f.FS, f.Dir, f.file(), f.UID, c)
}

// Clear removes the confirmation.
func (f FileConfirm) Clear() error {
	err := f.FS.Remove(f.file())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// ErrNothingToConfirm is returned by Confirm when no activation awaits a
// confirmation.
var ErrNothingToConfirm = errors.New("no activation is in flight")

// Confirm confirms the in-flight activation (`nixfleet-activate confirm`):
// it writes a Confirmation for the record's closure and start, which the
// waiting run (or its recovery) reads on its next poll. It returns the
// confirmed closure. Errors: ErrNothingToConfirm, the journal's or the
// store's errors.
func Confirm(d Deps) (string, error) {
	if d.Journal == nil || d.Confirm == nil {
		return "", ErrNothingToConfirm
	}
	rec, err := d.Journal.Load()
	if err != nil {
		return "", err
	}
	if rec == nil || rec.Op != OpActivate || rec.HealthRollback {
		return "", ErrNothingToConfirm
	}
	c := Confirmation{Closure: rec.Closure, StartedAt: rec.StartedAt, At: d.Clock.Now()}
	return rec.Closure, d.Confirm.Save(c)
}

// confirmed reports whether a confirmation for this run is there.
func (r *run) confirmed() bool {
	if r.d.Confirm == nil {
		return false
	}
	c, err := r.d.Confirm.Load()
	if err != nil {
		r.log.Warn("confirmation unreadable", "err", err)
		return false
	}
	return c != nil && c.Closure == r.rec.Closure && c.StartedAt.Equal(r.rec.StartedAt)
}

// awaitConfirmation waits until the recorded deadline for a confirmation,
// reading it every PollInterval. ok is false when ctx ended first.
func (r *run) awaitConfirmation(ctx context.Context) (confirmed, ok bool) {
	for {
		if r.confirmed() {
			return true, true
		}
		left := r.rec.ConfirmDeadline.Sub(r.d.Clock.Now())
		if left <= 0 {
			return false, true
		}
		if !r.sleep(ctx, min(r.o.PollInterval, left)) {
			return false, false
		}
	}
}

// clearConfirmation removes a stale confirmation before a run waits for
// its own (a failed clear is a warning: a stale one never matches anyway).
func (r *run) clearConfirmation() {
	if r.d.Confirm == nil {
		return
	}
	if err := r.d.Confirm.Clear(); err != nil {
		r.warnings = append(r.warnings, "stale confirmation not removed: "+err.Error())
	}
}
