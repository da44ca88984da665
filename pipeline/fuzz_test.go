package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// FuzzRecord feeds arbitrary bytes to the record parser and to the
// journal as the record file: neither panics, a decoded record survives a
// round trip, and a record the journal cannot use is kept aside whole
// (nothing of it lost), never parsed half-way.
func FuzzRecord(f *testing.F) {
	good, _ := json.Marshal(Record{Version: RecordVersion, Op: OpActivate, Step: StepFired, Closure: "x", Meta: map[string]string{"k": "v"}})
	for _, seed := range [][]byte{good, {}, []byte("{"), []byte("null"), []byte(`{"version":2,"op":"activate"}`),
		[]byte(`{"version":1,"op":"rollback","step":"firing","poll_budget_ms":-1}`), bytes.Repeat([]byte{0}, 64),
		[]byte(`{"version":1,"op":"activate","fired_at":"not a time"}`), []byte("\xff\xfe")} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := DecodeRecord(data)
		if err == nil {
			again, merr := json.Marshal(rec)
			if merr != nil {
				t.Fatalf("a decoded record does not marshal: %v", merr)
			}
			if _, err := DecodeRecord(again); err != nil {
				t.Fatalf("round trip: %v", err)
			}
		}
		v := fsview.NewMem()
		j := FileJournal{FS: v, Dir: DefaultStateDir}
		if err := v.MkdirAll(DefaultStateDir, StateDirPerm); err != nil {
			t.Fatal(err)
		}
		if err := v.WriteFile(j.file(), data, RecordPerm); err != nil {
			t.Fatal(err)
		}
		loaded, err := j.Load()
		var corrupt *CorruptRecordError
		switch {
		case errors.As(err, &corrupt):
			kept, rerr := v.ReadFile(corrupt.KeptAt)
			if rerr != nil || !bytes.Equal(kept, data) {
				t.Fatalf("kept-aside copy %s differs from the record (%v)", corrupt.KeptAt, rerr)
			}
		case err != nil:
			t.Fatalf("unexpected error: %v", err)
		case loaded == nil:
			t.Fatal("a record file read as no record")
		}
	})
}
