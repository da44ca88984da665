package pipeline

import (
	"fmt"
	"path"
	"time"

	"github.com/nixfleet/nixfleet-activate/fsview"
	"github.com/nixfleet/nixfleet-activate/nixprofile"
)

// LastActivationFile is the last-activation record's file name inside the
// state directory, next to RecordFile.
const LastActivationFile = "last-activation.json"

// LastActivationVersion is the record's format version; another version
// is ignored (Rollback then falls back to the previous generation).
const LastActivationVersion = 1

// LastActivation is the small record Rollback undoes: what the last
// activation that reached the host (past realise) started from and where
// it left the profile. It is written whatever that activation's outcome,
// so a failed one that changed nothing (its nix-env --set failed, or the
// profile was restored) leaves nothing to undo, and a rollback after it
// does not undo the deploy before it.
type LastActivation struct {
	Version int `json:"version"`
	// Closure is the activated closure's basename.
	Closure string `json:"closure"`
	// Previous is current-system's basename before the activation.
	Previous string `json:"previous,omitempty"`
	// PreviousProfile and PreviousGeneration are the profile's closure and
	// generation before the activation: where Rollback returns to.
	PreviousProfile    string `json:"previous_profile,omitempty"`
	PreviousGeneration int    `json:"previous_generation,omitempty"`
	// Generation is the profile's generation when the activation ended.
	Generation int `json:"generation,omitempty"`
	// Outcome is the activation's outcome kind.
	Outcome Kind `json:"outcome"`
	// At is when the activation ended.
	At time.Time `json:"at"`
}

// LastActivationStore keeps at most one LastActivation.
type LastActivationStore interface {
	// Load returns the record, nil when there is none or it is unusable
	// (garbage, another version: logged by the caller as a warning).
	Load() (*LastActivation, error)
	// Save replaces the record durably (atomic, fsynced).
	Save(LastActivation) error
}

// FileLastActivation stores the record as JSON in Dir/LastActivationFile
// through a filesystem view, written atomically as FileJournal writes.
type FileLastActivation struct {
	FS *fsview.View
	// Dir is the state directory (DefaultStateDir in production).
	Dir string
	// UID is the user that must own Dir, as FileJournal.UID.
	UID int
}

func (f FileLastActivation) file() string { return path.Join(f.Dir, LastActivationFile) }

// Load reads the record, under the same rules as the in-flight record: the
// state directory must pass CheckDir, the file must be a regular file of at
// most MaxRecordSize bytes. Errors: *BadEnvironmentError, the view's read
// error; an unusable record is an error too (its version or its JSON),
// never guessed at.
func (f FileLastActivation) Load() (*LastActivation, error) {
	var la LastActivation
	found, err := loadStateFile(f.FS, f.Dir, f.file(), f.UID, &la)
	if !found || err != nil {
		return nil, err
	}
	if la.Version != LastActivationVersion {
		return nil, fmt.Errorf("%s: format version %d, this binary reads %d", f.file(), la.Version, LastActivationVersion)
	}
	return &la, nil
}

// Save writes the record as FileJournal.Save writes the in-flight record.
func (f FileLastActivation) Save(la LastActivation) error {
	la.Version = LastActivationVersion
	return saveStateFile(f.FS, f.Dir, f.file(), f.UID, la)
}

// saveLastActivation writes the record of an activation that reached the
// host once its outcome is final (an interrupted run keeps its in-flight
// record and is recorded by its recovery). A failed write is a warning.
func (r *run) saveLastActivation(out *Outcome) {
	if r.d.LastActivation == nil || r.rec == nil || r.rec.Op != OpActivate || out.Kind == Interrupted {
		return
	}
	la := LastActivation{Closure: r.rec.Closure, Previous: r.rec.Previous, PreviousProfile: r.rec.PreviousProfile,
		PreviousGeneration: r.rec.PreviousGeneration, Generation: r.profileGeneration(), Outcome: out.Kind,
		At: r.d.Clock.Now()}
	if err := r.d.LastActivation.Save(la); err != nil {
		r.log.Warn("last-activation record not written", "err", err)
		out.Warnings = append(out.Warnings, "last-activation record not written: "+err.Error())
	}
}

// rollbackTarget chooses the generation Rollback returns to:
// Options.RollbackGeneration; else the last activation's starting
// generation; else the highest generation below the current one. Errors:
// no generation older than the current one.
func (r *run) rollbackTarget() (int, error) {
	if r.o.RollbackGeneration > 0 {
		return r.o.RollbackGeneration, nil
	}
	if r.d.LastActivation != nil {
		la, err := r.d.LastActivation.Load()
		switch {
		case err != nil:
			r.warnings = append(r.warnings, "last-activation record unusable, rolling back one generation: "+err.Error())
		case la != nil && la.PreviousGeneration > 0:
			r.log.Info("rolling back the last activation", "closure", la.Closure, "generation", la.PreviousGeneration)
			return la.PreviousGeneration, nil
		}
	}
	current := r.profileGeneration()
	older := 0
	for _, n := range r.generations() {
		if n < current && n > older {
			older = n
		}
	}
	if older == 0 {
		return 0, fmt.Errorf("no profile generation older than the current (%d) exists", current)
	}
	return older, nil
}

// generations lists the profile's generation numbers from the links beside
// it ("<profile>-N-link", as Nix 2.8 names them); nil when unreadable.
func (r *run) generations() []int {
	entries, err := r.d.FS.ReadDir(path.Dir(r.o.Profile))
	if err != nil {
		return nil
	}
	var gens []int
	for _, e := range entries {
		if n, ok := nixprofile.Generation(r.o.Profile, e.Name()); ok {
			gens = append(gens, n)
		}
	}
	return gens
}

// generationPath is the link of the profile's generation n.
func (r *run) generationPath(n int) string { return nixprofile.Link(r.o.Profile, n) }

// rollbackAlreadyCurrent returns AlreadyCurrent when the profile is at
// generation gen and current-system is its closure: there is nothing to
// undo.
func (r *run) rollbackAlreadyCurrent(gen int, current string) *Outcome {
	target, err := r.readBasename(r.generationPath(gen))
	if err != nil || target != current || r.profileGeneration() != gen {
		return nil
	}
	return &Outcome{Kind: AlreadyCurrent, Phase: PhaseCurrentCheck, Closure: target, Previous: current,
		Generation: gen, Profile: target,
		Reason: fmt.Sprintf("the profile is at generation %d and current-system is its closure; nothing to roll back", gen)}
}
