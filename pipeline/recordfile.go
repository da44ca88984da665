package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"time"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// RecordVersion is the in-flight record's format version. A record of
// another version is reported and kept aside, never guessed at.
const RecordVersion = 1

// DefaultStateDir holds the in-flight record.
const DefaultStateDir = "/var/lib/nixfleet-activate"

// Op is the operation a record belongs to.
type Op string

const (
	OpActivate Op = "activate"
	OpRollback Op = "rollback"
)

// Step is the last step an in-flight operation passed. The strings are
// stored on disk: never rename one.
type Step string

const (
	// StepRealised: the closure is realised; the profile may or may not
	// have been set (the record is written before the set). Only records
	// written before activations began at "firing" (see CHANGELOG.md) hold
	// it; it is still read and recovered.
	StepRealised Step = "realised"
	// StepProfileSet: the profile points at the closure; nothing fired.
	// Only records written before the change that dropped this write (see
	// CHANGELOG.md) hold it; it is still read, and recovered like
	// StepRealised.
	StepProfileSet Step = "profile-set"
	// StepRolledBack: the rollback's nix-env --switch-generation may have
	// run; nothing fired.
	StepRolledBack Step = "rolled-back"
	// StepFiring: the unit name is released and the fire is next (it may
	// have happened). An activation's first record: written before its
	// profile set, which may or may not have run.
	StepFiring Step = "firing"
	// StepFired: the unit was started; FiredAt is set.
	StepFired Step = "fired"
	// StepRestoringProfile: the run failed (Pending) and nix-env
	// --switch-generation back to PreviousGeneration may have run.
	StepRestoringProfile Step = "restoring-profile"
	// StepRestoringBoot: the profile is back; the previous closure's
	// switch-to-configuration boot may have been fired in RestoreUnit
	// (RestoreFiredAt is set once it was).
	StepRestoringBoot Step = "restoring-boot"
)

// Record is the in-flight journal entry of one activation or rollback:
// enough to work out, after the agent died, what happened to the host.
type Record struct {
	Version int               `json:"version"`
	Op      Op                `json:"op"`
	Step    Step              `json:"step"`
	Closure string            `json:"closure,omitempty"`
	Meta    map[string]string `json:"meta,omitempty"`
	// Previous is current-system's basename before the switch.
	Previous string `json:"previous,omitempty"`
	// PreviousProfile and PreviousGeneration are the profile's closure and
	// generation before the run changed it.
	PreviousProfile    string `json:"previous_profile,omitempty"`
	PreviousGeneration int    `json:"previous_generation,omitempty"`
	Generation         int    `json:"generation,omitempty"`
	Unit               string `json:"unit"`
	Action             Action `json:"action,omitempty"`
	// Components names what forced a deferral to boot.
	Components []string `json:"components,omitempty"`
	// PollIntervalMS and PollBudgetMS are the run's poll options, in ms.
	PollIntervalMS int64     `json:"poll_interval_ms"`
	PollBudgetMS   int64     `json:"poll_budget_ms"`
	StartedAt      time.Time `json:"started_at"`
	FiredAt        time.Time `json:"fired_at,omitzero"`
	// BootID is the kernel's boot ID when the record was begun ("" when
	// unreadable): recovery tells a reboot since by a different one.
	BootID string `json:"boot_id,omitempty"`
	// AlreadyRunning: current-system already was the closure; the fired
	// boot action only refreshes the boot entry.
	AlreadyRunning bool `json:"already_running,omitempty"`
	// OnFailure is the run's --on-failure ("" reads as restore).
	OnFailure OnFailure `json:"on_failure,omitempty"`
	// Pending is the failure being restored from (steps restoring-*).
	Pending *Outcome `json:"pending,omitempty"`
	// RestoreBoot: the run's switch-to-configuration executed, so the
	// restore also runs the previous closure's boot action.
	RestoreBoot bool `json:"restore_boot,omitempty"`
	// RestoreUnit and RestoreFiredAt name the restore unit and when it was
	// started.
	RestoreUnit    string    `json:"restore_unit,omitempty"`
	RestoreFiredAt time.Time `json:"restore_fired_at,omitzero"`
	// Health step (healthflow.go): Switched is the switch's outcome before
	// the checks; RequireRunning, ConfirmWithinMS (ms) and OnUnhealthy are
	// the run's options; ConfirmDeadline ends the wait for a confirmation;
	// Health is the report so far; HealthRollback marks the rollback of an
	// unhealthy closure (its fire then recorded as firing/fired).
	Switched        *Outcome      `json:"switched,omitempty"`
	RequireRunning  bool          `json:"require_running,omitempty"`
	ConfirmWithinMS int64         `json:"confirm_within_ms,omitempty"`
	OnUnhealthy     OnUnhealthy   `json:"on_unhealthy,omitempty"`
	ConfirmDeadline time.Time     `json:"confirm_deadline,omitzero"`
	Health          *HealthReport `json:"health,omitempty"`
	HealthRollback  bool          `json:"health_rollback,omitempty"`
}

// Journal keeps at most one in-flight record.
type Journal interface {
	// Load returns the record, nil when there is none. A record that cannot
	// be decoded is moved aside and reported as *CorruptRecordError.
	Load() (*Record, error)
	// Save replaces the record atomically and durably (fsynced); a step
	// that only records a done action (recordsDoneAction) may be undone
	// by a power cut, never torn.
	Save(Record) error
	// Clear removes the record; no record is not an error.
	Clear() error
}

// CorruptRecordError reports a record that could not be used; it was moved
// to KeptAt.
type CorruptRecordError struct {
	Path, KeptAt string
	Err          error
}

func (e *CorruptRecordError) Error() string {
	if e.KeptAt == "" {
		return fmt.Sprintf("in-flight record %s unusable (left in place): %v", e.Path, e.Err)
	}
	return fmt.Sprintf("in-flight record %s unusable (kept as %s): %v", e.Path, e.KeptAt, e.Err)
}

func (e *CorruptRecordError) Unwrap() error { return e.Err }

// FileJournal stores the record as JSON in Dir/RecordFile through a
// filesystem view (atomic replace: temporary file, fsync, rename, fsync of
// the directory).
type FileJournal struct {
	FS *fsview.View
	// Dir is the state directory (DefaultStateDir in production).
	Dir string
	// Now names kept-aside files (corrupt records); nil uses the record
	// path plus ".corrupt".
	Now func() time.Time
	// UID is the user that must own Dir: the running user (0, root, in
	// production). Checked where the view knows owners (the OS view).
	UID int
}

// RecordFile is the in-flight record's file name inside the state directory.
const RecordFile = "in-flight.json"

func (j FileJournal) file() string { return path.Join(j.Dir, RecordFile) }

// Load reads the record (see readRecord for what is refused). Errors:
// *CorruptRecordError (garbage, torn write, other version, longer than
// MaxRecordSize: moved aside under a fresh name), *BadEnvironmentError
// (an unsafe state directory, or a link, FIFO or device at the record's
// name: nothing moved), or the view's read error.
func (j FileJournal) Load() (*Record, error) {
	r, err := j.readRecord()
	var corrupt *CorruptRecordError
	if errors.As(err, &corrupt) {
		return nil, j.keepAside(corrupt.Err)
	}
	return r, err
}

// keepAside moves an unusable record out of the way so the next run starts
// clean, and reports where it went. The name is the record's plus
// ".corrupt" (and "-<UTC time>" when Now is set), then ".1", ".2", ... while
// taken: an earlier kept copy is never replaced (RenameNoReplace).
func (j FileJournal) keepAside(cause error) error {
	base := j.file() + ".corrupt"
	if j.Now != nil {
		base += "-" + j.Now().UTC().Format("20060102T150405Z")
	}
	var err error
	for n := 0; n < maxKeptAside; n++ {
		kept := base
		if n > 0 {
			kept += "." + strconv.Itoa(n)
		}
		err = j.FS.RenameNoReplace(j.file(), kept)
		if err == nil {
			return &CorruptRecordError{Path: j.file(), KeptAt: kept, Err: cause}
		}
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	return &CorruptRecordError{Path: j.file(), KeptAt: "(not moved: " + err.Error() + ")", Err: cause}
}

// Save writes r atomically as a 0600 file (the directory not synced for
// recordsDoneAction steps), creating Dir (0700) when
// missing, after checking Dir (CheckDir); a link at the record's name is
// replaced, never written through. Errors: *BadEnvironmentError, or the
// view's write error.
func (j FileJournal) Save(r Record) error {
	r.Version = RecordVersion
	if recordsDoneAction(r.Step) {
		return writeStateFile(j.FS, j.Dir, j.file(), j.UID, r, j.FS.ReplaceFileUnsyncedName)
	}
	return saveStateFile(j.FS, j.Dir, j.file(), j.UID, r)
}

// saveStateFile writes value as one JSON line to file atomically (a fresh
// temporary file, fsync, rename, fsync of the directory; a link at file is
// replaced, never written through), mode RecordPerm, after CheckDir's
// checks of dir as owned by uid (created StateDirPerm when missing).
func saveStateFile(v *fsview.View, dir, file string, uid int, value any) error {
	return writeStateFile(v, dir, file, uid, value, v.ReplaceFile)
}

// writeStateFile is saveStateFile with the replace function given.
func writeStateFile(v *fsview.View, dir, file string, uid int, value any, replace func(string, []byte, fs.FileMode) error) error {
	data, err := json.Marshal(value)
	if err != nil {
		return err
	}
	if err := (FileJournal{FS: v, Dir: dir, UID: uid}).CheckDir(true); err != nil {
		return err
	}
	return replace(file, append(data, '\n'), RecordPerm)
}

// Clear removes the record.
func (j FileJournal) Clear() error {
	err := j.FS.Remove(j.file())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// recordsDoneAction reports the steps that only record an action already
// taken, whose loss in a power cut recovery handles exactly as a crash
// right before their write: "profile-set" (no longer written, see
// StepProfileSet) would fall back to "realised" (the profile may or may
// not be set: abandoned either way), "fired" to
// "firing" (after the reboot that a power cut is, both are decided from
// the links: Recover's afterReboot). A step written before its action
// ("firing", an activation's first record, before nix-env --set and
// systemd-run; "realised" before nix-env --set in older versions) is never
// one of them: it must be on disk before the host changes.
//
// FileJournal.Save writes these without the state directory's fsync(2)
// after the rename (fsview.View.ReplaceFileUnsyncedName): one fsync fewer
// per such write, each about 1 ms on an idle ext4 and up to 50 ms seen
// under load in the container. The record's contents are still synced
// before the rename, so it is never torn; the next synced record (or
// nothing, for "fired") makes the rename durable.
func recordsDoneAction(step Step) bool {
	return step == StepProfileSet || step == StepFired
}
