package pipeline

import (
	"path"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// SaveStateJSON writes value as JSON to the state directory's file name
// with the in-flight record's hardening (saveStateFile: CheckDir as owned
// by uid, atomic replace, never through a link, mode RecordPerm). For
// small files of other packages (the metrics counters). Errors: as
// FileJournal.Save's.
func SaveStateJSON(v *fsview.View, dir, name string, uid int, value any) error {
	return saveStateFile(v, dir, path.Join(dir, name), uid, value)
}

// LoadStateJSON reads the state directory's file name into value under
// the same rules as the in-flight record (CheckDir, a regular file of at
// most MaxRecordSize bytes); found is false when there is no such file.
// Errors: *BadEnvironmentError from CheckDir, the view's read error, the
// JSON decoder's error.
func LoadStateJSON(v *fsview.View, dir, name string, uid int, value any) (found bool, err error) {
	return loadStateFile(v, dir, path.Join(dir, name), uid, value)
}
