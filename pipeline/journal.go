package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
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
	// have been set (the record is written before the set).
	StepRealised Step = "realised"
	// StepProfileSet: the profile points at the closure; nothing fired.
	StepProfileSet Step = "profile-set"
	// StepRolledBack: the rollback's nix-env --switch-generation may have
	// run; nothing fired.
	StepRolledBack Step = "rolled-back"
	// StepFiring: the fire was about to be issued (it may have happened).
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
}

// Journal keeps at most one in-flight record.
type Journal interface {
	// Load returns the record, nil when there is none. A record that cannot
	// be decoded is moved aside and reported as *CorruptRecordError.
	Load() (*Record, error)
	// Save replaces the record durably (atomic, fsynced).
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
}

// RecordFile is the in-flight record's file name inside the state directory.
const RecordFile = "in-flight.json"

func (j FileJournal) file() string { return path.Join(j.Dir, RecordFile) }

// Load reads the record. Errors: *CorruptRecordError (garbage, torn write,
// other version), or the view's read error.
func (j FileJournal) Load() (*Record, error) {
	data, err := j.FS.ReadFile(j.file())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r Record
	err = json.Unmarshal(data, &r)
	if err == nil && r.Version != RecordVersion {
		err = fmt.Errorf("format version %d, this binary reads %d", r.Version, RecordVersion)
	}
	if err == nil && r.Op != OpActivate && r.Op != OpRollback {
		err = fmt.Errorf("unknown op %q", r.Op)
	}
	if err != nil {
		return nil, j.keepAside(err)
	}
	return &r, nil
}

// keepAside moves an unusable record out of the way so the next run starts
// clean, and reports where it went.
func (j FileJournal) keepAside(cause error) error {
	kept := j.file() + ".corrupt"
	if j.Now != nil {
		kept += "-" + j.Now().UTC().Format("20060102T150405Z")
	}
	if err := j.FS.Rename(j.file(), kept); err != nil {
		return &CorruptRecordError{Path: j.file(), KeptAt: "(not moved: " + err.Error() + ")", Err: cause}
	}
	return &CorruptRecordError{Path: j.file(), KeptAt: kept, Err: cause}
}

// Save writes r atomically, creating Dir when missing.
func (j FileJournal) Save(r Record) error {
	r.Version = RecordVersion
	return saveStateFile(j.FS, j.Dir, j.file(), r)
}

// saveStateFile writes v as one JSON line to file atomically (temporary
// file, fsync, rename, fsync of the directory), creating dir when missing.
func saveStateFile(v *fsview.View, dir, file string, value any) error {
	data, err := json.Marshal(value)
	if err != nil {
		return err
	}
	if err := v.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return v.WriteFileAtomic(file, append(data, '\n'), 0o644)
}

// Clear removes the record.
func (j FileJournal) Clear() error {
	err := j.FS.Remove(j.file())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
