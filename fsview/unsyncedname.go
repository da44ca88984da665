package fsview

import "io/fs"

// ReplaceFileUnsyncedName is ReplaceFile without the sync of the directory
// after the rename (one fsync(2) less, about 1 ms on ext4 and up to tens
// of milliseconds under I/O load): the new contents are synced before they
// take the name, so a reader never sees a torn file, but a power loss may
// undo the rename and leave the previous file under the name. Use it only
// where the previous contents are a state the reader handles as well
// (the next synced replace in the same directory makes this one durable
// too). Errors: as ReplaceFile.
func (v *View) ReplaceFileUnsyncedName(name string, data []byte, perm fs.FileMode) error {
	return v.replaceFile(name, data, perm, false)
}
