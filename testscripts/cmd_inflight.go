package testscripts

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/nixfleet/nixfleet-activate/fsview"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// Names in the state directory, as pipeline.FileJournal and
// fsview.WriteFileAtomic make them.
const (
	recordName     = pipeline.RecordFile
	keptPrefix     = recordName + ".corrupt"
	tempNamePrefix = "." + recordName + ".tmp-"
)

// inFlightCommand checks what the agent's in-flight journal holds.
func inFlightCommand() command {
	return command{name: "in-flight", usage: "in-flight none|unusable|STEP [op=activate|rollback] [closure=ALIAS|none] [kept=N] [temp=N]",
		summary: "checks the in-flight record in " + pipeline.DefaultStateDir + ": none, a file that is no record of this format (unusable), or a record at STEP (firing, rolled-back, fired; realised and profile-set from older versions) with its op and closure; kept=N counts records kept aside (" + keptPrefix + "*), temp=N temporary files left by writes (" + tempNamePrefix + "*)",
		run:     runInFlight}
}

// stateFiles is what the state directory holds: the record (nil when
// there is none), and how many files were kept aside or left as temporary.
type stateFiles struct {
	record      []byte
	kept, temps int
}

func readStateDir(v *fsview.View) (stateFiles, error) {
	var sf stateFiles
	entries, err := v.ReadDir(pipeline.DefaultStateDir)
	if errors.Is(err, fs.ErrNotExist) {
		return sf, nil
	}
	if err != nil {
		return sf, err
	}
	for _, e := range entries {
		switch name := e.Name(); {
		case name == recordName:
			if sf.record, err = v.ReadFile(path.Join(pipeline.DefaultStateDir, name)); err != nil {
				return sf, err
			}
		case strings.HasPrefix(name, keptPrefix):
			sf.kept++
		case strings.HasPrefix(name, tempNamePrefix):
			sf.temps++
		}
	}
	return sf, nil
}

func runInFlight(s *script, _ bool, args []string) error {
	p, err := argSpec{"op=", "closure=", "kept=", "temp="}.parseN(args, 1, "none|unusable|STEP")
	if err != nil {
		return err
	}
	sf, err := readStateDir(s.w.host().FS())
	if err != nil {
		return err
	}
	got := map[string]string{"state": "none", "kept": strconv.Itoa(sf.kept), "temp": strconv.Itoa(sf.temps)}
	var rec pipeline.Record
	if sf.record != nil {
		got["state"] = "unusable"
		if json.Unmarshal(sf.record, &rec) == nil && rec.Version == pipeline.RecordVersion {
			got["state"], got["op"], got["closure"] = string(rec.Step), string(rec.Op), s.w.alias(rec.Closure)
			if rec.Closure == "" {
				got["closure"] = "none"
			}
		}
	}
	want := map[string]string{"state": p.pos[0]}
	for k, v := range p.opts {
		want[k] = v
	}
	var problems []string
	for _, k := range []string{"state", "op", "closure", "kept", "temp"} {
		if w, ok := want[k]; ok && got[k] != w {
			problems = append(problems, fmt.Sprintf("%s is %q, want %q", k, got[k], w))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("in-flight record: %s\n--- %s ---\n%s", strings.Join(problems, ", "),
			path.Join(pipeline.DefaultStateDir, recordName), s.w.readable(string(sf.record)))
	}
	return nil
}
