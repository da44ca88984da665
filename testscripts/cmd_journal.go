package testscripts

import (
	"encoding/json"
	"path"
	"syscall"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/clock"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// journalCommand injects faults into the agent's in-flight journal.
func journalCommand() command {
	return command{name: "journal", usage: "journal full|read-only|writable [after=N] | journal garbage|torn|empty|old-version|newer-version",
		summary: "acts on the state directory " + pipeline.DefaultStateDir + ": full makes creating or writing files and directories there fail with ENOSPC (an empty file is still created, as open(2) succeeds; removing works), read-only makes every change fail with EROFS, writable lifts both (after=N: only after N more record writes succeed); the others put a bad record file there, as a crash or another binary version could leave it: NUL bytes, the first half of a record, a zero-length file, a record of format version 0 or 2",
		effect:  journalEffect}
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
			return nil, usagef("after= goes with full or read-only")
		}
		return func() error {
			if err := h.FS().MkdirAll(d.Dir(), 0o755); err != nil {
				return err
			}
			return h.FS().WriteFile(path.Join(d.Dir(), recordName), bad(), 0o644)
		}, nil
	}
	faults := map[string]error{"full": syscall.ENOSPC, "read-only": syscall.EROFS, "writable": nil}
	fault, ok := faults[p.pos[0]]
	if !ok {
		return nil, usagef("%q: want full, read-only, writable, garbage, torn, empty, old-version or newer-version", p.pos[0])
	}
	return func() error { d.Fail(fault, after); return nil }, nil
}
