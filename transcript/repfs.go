package transcript

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// Raw is a filesystem view's primitive layer answered from the steps whose
// paths carry prefix ("" for the host view): lstat and readlink answers,
// file contents and listings, and the recorded errors of writes (whose
// contents are not compared: they hold times and process IDs).
func (p *Replayer) Raw(prefix string) fsview.Raw { return &repRaw{p: p, prefix: prefix} }

type repRaw struct {
	p      *Replayer
	prefix string
}

var _ fsview.Raw = (*repRaw)(nil)

func (w *repRaw) take(k Kind, name, arg string) (Step, error) {
	s, _, ok := w.p.take(call{kind: k, path: normalName(w.prefix, name), arg: arg})
	if !ok {
		return s, &fs.PathError{Op: string(k), Path: name, Err: ErrDiverged}
	}
	return s, stepErr(k, name, s.Err)
}

func (w *repRaw) Lstat(name string) (fs.FileInfo, error) {
	s, err := w.take(KindLstat, name, "")
	if err != nil {
		return nil, err
	}
	return parseInfo(name, s.Result)
}

func (w *repRaw) Readlink(name string) (string, error) {
	s, err := w.take(KindReadlink, name, "")
	return s.Result, err
}

func (w *repRaw) ReadFile(name string) ([]byte, error) {
	s, err := w.take(KindReadFile, name, "")
	if err != nil {
		return nil, err
	}
	return append([]byte{}, s.Data...), nil
}

func (w *repRaw) ReadDir(name string) ([]fs.DirEntry, error) {
	s, err := w.take(KindReadDir, name, "")
	if err != nil {
		return nil, err
	}
	var out []fs.DirEntry
	for _, line := range strings.Split(strings.TrimSuffix(string(s.Data), "\n"), "\n") {
		f := strings.SplitN(line, " ", 3)
		if len(f) < 3 {
			continue
		}
		mode, _ := strconv.ParseUint(f[1], 0, 32)
		out = append(out, fs.FileInfoToDirEntry(&fileInfo{name: f[2], mode: fs.FileMode(mode)}))
	}
	return out, nil
}

func (w *repRaw) Symlink(target, name string) error {
	_, err := w.take(KindSymlink, name, target)
	return err
}

func (w *repRaw) Rename(oldname, newname string) error {
	_, err := w.take(KindRename, oldname, normalName(w.prefix, newname))
	return err
}

func (w *repRaw) Remove(name string) error {
	_, err := w.take(KindRemove, name, "")
	return err
}

func (w *repRaw) Mkdir(name string, perm fs.FileMode) error {
	_, err := w.take(KindMkdir, name, fmt.Sprintf("%#o", uint32(perm)))
	return err
}

func (w *repRaw) WriteFile(name string, _ []byte, perm fs.FileMode) error {
	_, err := w.take(KindWriteFile, name, fmt.Sprintf("%#o", uint32(perm)))
	return err
}

func (w *repRaw) Root() string { return "transcript:" }

// fileInfo is a recorded lstat answer.
type fileInfo struct {
	name  string
	mode  fs.FileMode
	size  int64
	mtime time.Time
	// st carries the owner for fsview.OwnerUID; nil when unknown.
	st *syscall.Stat_t
}

func (f *fileInfo) Name() string       { return f.name }
func (f *fileInfo) Size() int64        { return f.size }
func (f *fileInfo) Mode() fs.FileMode  { return f.mode }
func (f *fileInfo) ModTime() time.Time { return f.mtime }
func (f *fileInfo) IsDir() bool        { return f.mode.IsDir() }
func (f *fileInfo) Sys() any {
	if f.st == nil {
		return nil
	}
	return f.st
}

// parseInfo reads infoText's "MODE HEXMODE size=N uid=N mtime=T".
func parseInfo(name, text string) (fs.FileInfo, error) {
	f := strings.Fields(text)
	if len(f) < 5 {
		return nil, fmt.Errorf("transcript lstat answer %q: want MODE HEXMODE size= uid= mtime=", text)
	}
	mode, err := strconv.ParseUint(f[1], 0, 32)
	if err != nil {
		return nil, fmt.Errorf("transcript lstat answer %q: %w", text, err)
	}
	info := &fileInfo{name: name[strings.LastIndexByte(name, '/')+1:], mode: fs.FileMode(mode)}
	for _, kv := range f[2:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "size":
			info.size, _ = strconv.ParseInt(v, 10, 64)
		case "uid":
			if uid, err := strconv.ParseUint(v, 10, 32); err == nil {
				info.st = &syscall.Stat_t{Uid: uint32(uid), Mode: uint32(mode & 0o777)}
			}
		case "mtime":
			info.mtime, _ = time.Parse(time.RFC3339Nano, v)
		}
	}
	return info, nil
}
