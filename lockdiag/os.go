package lockdiag

import (
	"fmt"
	"syscall"
	"time"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// OSHost is the real machine: /proc at "/", the lock file under Root ("/"
// in production, a temp dir in tests), the wall clock.
type OSHost struct {
	// Root is the directory the lock path lives under ("" means "/").
	Root string
}

// Proc returns a view of the real root, where /proc is.
func (OSHost) Proc() *fsview.View { return fsview.NewOS("/") }

// LockFile stats the lock file through an OS view rooted at Root and reads
// its device, inode and ctime from the stat(2) result. Errors: the stat's
// (*fs.PathError), or a file system that gives no stat(2) result.
func (o OSHost) LockFile(name string) (FileID, time.Time, error) {
	root := o.Root
	if root == "" {
		root = "/"
	}
	info, err := fsview.NewOS(root).Stat(name)
	if err != nil {
		return FileID{}, time.Time{}, fmt.Errorf("lockdiag: %w", err)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return FileID{}, time.Time{}, fmt.Errorf("lockdiag: %s: no stat(2) result", name)
	}
	return StatID(st), time.Unix(st.Ctim.Sec, st.Ctim.Nsec).UTC(), nil
}

// StatID is the FileID of a stat(2) result: st_dev split as glibc's
// major()/minor() do (Linux's new_encode_dev layout).
func StatID(st *syscall.Stat_t) FileID {
	dev := uint64(st.Dev)
	major := uint32((dev>>8)&0xfff) | uint32((dev>>32)&^0xfff)
	minor := uint32(dev&0xff) | uint32((dev>>12)&^0xff)
	return FileID{Major: major, Minor: minor, Inode: uint64(st.Ino)}
}

// Now is the wall clock.
func (OSHost) Now() time.Time { return time.Now() }
