package testscripts

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"syscall"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/clock"
	"github.com/nixfleet/nixfleet-activate/fsview"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// journalCommand injects faults into the agent's in-flight journal.
func journalCommand() command {
	return command{name: "journal", usage: "journal full|read-only|writable [after=N] | journal garbage|torn|empty|old-version|newer-version",
		summary: "acts on the state directory " + pipeline.DefaultStateDir + ": full makes creating or writing files and directories there fail with ENOSPC (an empty file is still created, as open(2) succeeds; removing works), read-only makes every change fail with EROFS, writable lifts both (after=N: only after N more record writes succeed); the others put a bad record file there, as a crash or another binary version could leave it: NUL bytes, the first half of a record, a zero-length file, a record of format version 0 or 2",
		effect:  journalEffect}
}

// stateDir is the agent's view of the host's filesystem for its journal:
// an fsview.Raw over the host's own view that fails as a full or
// read-only filesystem would, in and above the state directory.
//
// GOTCHA: sim.Host exposes its view, not its Raw layer, so this Raw
// delegates to the view; the names a View hands its Raw are resolved
// already, so only a link in the final component would be followed here
// where a real Raw would not (the state directory holds none).
type stateDir struct {
	v   *fsview.View
	dir string
	// fault is the errno every affected change gets (nil: none).
	fault error
	// after counts record writes (committed by their rename) that still
	// succeed before fault applies.
	after int
}

var _ fsview.Raw = (*stateDir)(nil)

func newStateDir(v *fsview.View) *stateDir {
	return &stateDir{v: v, dir: pipeline.DefaultStateDir}
}

// journal is the FileJournal the harness gives the agent, as the binary
// wires it (FileJournal.Now nil).
func (d *stateDir) journal() pipeline.FileJournal {
	return pipeline.FileJournal{FS: fsview.New(d), Dir: d.dir}
}

// lastActivation is the FileLastActivation the harness gives the agent,
// next to the journal, as the binary wires it.
func (d *stateDir) lastActivation() pipeline.FileLastActivation {
	return pipeline.FileLastActivation{FS: fsview.New(d), Dir: d.dir}
}

// faulty returns the fault a change of name gets: names in the state
// directory, and the directory and its parents for mkdir.
func (d *stateDir) faulty(name string) error {
	if d.fault == nil || d.after > 0 {
		return nil
	}
	if name == d.dir || strings.HasPrefix(name, d.dir+"/") || strings.HasPrefix(d.dir, name+"/") {
		return d.fault
	}
	return nil
}

func (d *stateDir) Lstat(name string) (fs.FileInfo, error) { return d.v.Lstat(name) }
func (d *stateDir) Readlink(name string) (string, error)   { return d.v.Readlink(name) }
func (d *stateDir) ReadFile(name string) ([]byte, error)   { return d.v.ReadFile(name) }
func (d *stateDir) ReadDir(name string) ([]fs.DirEntry, error) {
	return d.v.ReadDir(name)
}
func (d *stateDir) Root() string { return d.v.Root() }

func (d *stateDir) Symlink(target, name string) error {
	if err := d.readOnly(name); err != nil {
		return &fs.PathError{Op: "symlink", Path: name, Err: err}
	}
	return d.v.Symlink(target, name)
}

func (d *stateDir) Rename(oldname, newname string) error {
	if err := cmp.Or(d.readOnly(oldname), d.readOnly(newname)); err != nil {
		return &fs.PathError{Op: "rename", Path: oldname, Err: err}
	}
	if err := d.v.Rename(oldname, newname); err != nil {
		return err
	}
	// The rename commits one record write (View.WriteFileAtomic).
	if d.fault != nil && d.after > 0 && newname == path.Join(d.dir, recordName) {
		d.after--
	}
	return nil
}

func (d *stateDir) Remove(name string) error {
	if err := d.readOnly(name); err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	return d.v.Remove(name)
}

// Mkdir creates one directory (its parent exists: View.MkdirAll goes
// component by component).
func (d *stateDir) Mkdir(name string, perm fs.FileMode) error {
	if _, err := d.v.Lstat(name); err == nil {
		return &fs.PathError{Op: "mkdir", Path: name, Err: syscall.EEXIST}
	}
	if err := d.faulty(name); err != nil {
		return &fs.PathError{Op: "mkdir", Path: name, Err: err}
	}
	return d.v.MkdirAll(name, perm)
}

// WriteFile fails on a full filesystem after creating the file empty, as
// open(O_CREAT) succeeds and write(2) gets ENOSPC.
func (d *stateDir) WriteFile(name string, data []byte, perm fs.FileMode) error {
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

// readOnly is the fault of a change that frees space (rename, remove):
// only a read-only filesystem refuses it.
func (d *stateDir) readOnly(name string) error {
	if err := d.faulty(name); errors.Is(err, syscall.EROFS) {
		return err
	}
	return nil
}

// badRecords are the record files `journal` can leave in the state
// directory.
var badRecords = map[string]func() []byte{
	"garbage":       func() []byte { return make([]byte, 64) },
	"torn":          func() []byte { r := sampleRecord(pipeline.RecordVersion); return r[:len(r)/2] },
	"empty":         func() []byte { return nil },
	"old-version":   func() []byte { return sampleRecord(0) },
	"newer-version": func() []byte { return sampleRecord(pipeline.RecordVersion + 1) },
}

// sampleRecord is a whole record of an activation fired at the epoch, in
// format version v.
func sampleRecord(v int) []byte {
	closure := sim.FakeBasename("nixos-system-web1-24.05", "earlier")
	r := pipeline.Record{Version: v, Op: pipeline.OpActivate, Step: pipeline.StepFired, Closure: closure,
		Previous: closure, Unit: pipeline.DefaultSwitchUnit, Action: pipeline.ActionSwitch,
		PollIntervalMS: 2000, PollBudgetMS: 300000, StartedAt: clock.Epoch, FiredAt: clock.Epoch}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		panic(err) // a fixed, marshalable value
	}
	return append(data, '\n')
}

func journalEffect(s *script, args []string) (func() error, error) {
	p, err := argSpec{"after="}.parseN(args, 1, "a state or a bad record")
	if err != nil {
		return nil, err
	}
	after, err := p.integer("after", 0)
	if err != nil {
		return nil, err
	}
	h, d := s.w.host(), s.w.state
	if bad, ok := badRecords[p.pos[0]]; ok {
		if _, given := p.opts["after"]; given {
			return nil, fmt.Errorf("after= goes with full or read-only")
		}
		return func() error {
			if err := h.FS().MkdirAll(d.dir, 0o755); err != nil {
				return err
			}
			return h.FS().WriteFile(path.Join(d.dir, recordName), bad(), 0o644)
		}, nil
	}
	faults := map[string]error{"full": syscall.ENOSPC, "read-only": syscall.EROFS, "writable": nil}
	fault, ok := faults[p.pos[0]]
	if !ok {
		return nil, fmt.Errorf("%q: want full, read-only, writable, garbage, torn, empty, old-version or newer-version", p.pos[0])
	}
	return func() error { d.fault, d.after = fault, after; return nil }, nil
}
