package transcript

import (
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// procPrefix marks the steps of the lock diagnosis's /proc view.
const procPrefix = "proc:"

// normalName is name as a step shows it: prefix, then name with fsview's
// random temporary-name suffix (fsview.CutTempSuffix) kept as ".tmp-*", so
// a replay's own random names compare equal.
func normalName(prefix, name string) string {
	if before, ok := fsview.CutTempSuffix(name); ok {
		name = before + ".tmp-*"
	}
	return prefix + name
}

// Raw wraps a filesystem view's primitive layer so that each call is a
// step (paths prefixed with prefix: "" for the host view). Wrap the layer
// with fsview.New(rec.Raw(fsview.NewOSRaw(root), "")). The wrapper offers
// exactly the optional interfaces inner has (fsview.Forwarder), each call
// of them a step too (recopt.go), so a recorded view takes the same
// hardened paths as a bare one (O_NOFOLLOW reads, renameat2); the
// transcript's header lists them (Header.Layers) for the replay.
func (r *Recorder) Raw(inner fsview.Raw, prefix string) fsview.Raw {
	r.addLayer(prefix, abilities(fsview.OptionalsOf(inner)))
	return &recRaw{r: r, inner: inner, prefix: prefix}
}

// addLayer notes a wrapped layer's optional interfaces for the header;
// kept across Reset (the layers outlive one pipeline call).
func (r *Recorder) addLayer(prefix string, names []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.layers == nil {
		r.layers = map[string][]string{}
	}
	r.layers[prefix] = names
}

type recRaw struct {
	r      *Recorder
	inner  fsview.Raw
	prefix string
}

var _ fsview.Raw = (*recRaw)(nil)

func (w *recRaw) step(k Kind, name string) Step {
	return Step{Kind: k, Path: normalName(w.prefix, name)}
}

func (w *recRaw) Lstat(name string) (fs.FileInfo, error) {
	info, err := w.inner.Lstat(name)
	s := w.step(KindLstat, name)
	s.Err = w.r.errText(err)
	if err == nil {
		s.Result = infoText(info)
	}
	w.r.add(s)
	return info, err
}

func (w *recRaw) Readlink(name string) (string, error) {
	target, err := w.inner.Readlink(name)
	s := w.step(KindReadlink, name)
	s.Result, s.Err = w.r.red.Text(target), w.r.errText(err)
	w.r.add(s)
	return target, err
}

func (w *recRaw) ReadFile(name string) ([]byte, error) {
	data, err := w.inner.ReadFile(name)
	s := w.step(KindReadFile, name)
	s.Data, s.Err = w.r.red.Bytes(data), w.r.errText(err)
	if err == nil {
		s.Result = fmt.Sprintf("size=%d", len(data))
	}
	w.r.add(s)
	return data, err
}

func (w *recRaw) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := w.inner.ReadDir(name)
	s := w.step(KindReadDir, name)
	s.Err = w.r.errText(err)
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "%s %#x %s\n", e.Type(), uint32(e.Type()), e.Name())
	}
	s.Data = []byte(b.String())
	if err == nil {
		s.Result = fmt.Sprintf("entries=%d", len(entries))
	}
	w.r.add(s)
	return entries, err
}

func (w *recRaw) Symlink(target, name string) error {
	err := w.inner.Symlink(target, name)
	s := w.step(KindSymlink, name)
	s.Arg, s.Err = w.r.red.Text(target), w.r.errText(err)
	w.r.add(s)
	return err
}

func (w *recRaw) Rename(oldname, newname string) error {
	err := w.inner.Rename(oldname, newname)
	s := w.step(KindRename, oldname)
	s.Arg, s.Err = normalName(w.prefix, newname), w.r.errText(err)
	w.r.add(s)
	return err
}

func (w *recRaw) Remove(name string) error {
	err := w.inner.Remove(name)
	s := w.step(KindRemove, name)
	s.Err = w.r.errText(err)
	w.r.add(s)
	return err
}

func (w *recRaw) Mkdir(name string, perm fs.FileMode) error {
	err := w.inner.Mkdir(name, perm)
	s := w.step(KindMkdir, name)
	s.Arg, s.Err = fmt.Sprintf("%#o", uint32(perm)), w.r.errText(err)
	w.r.add(s)
	return err
}

func (w *recRaw) WriteFile(name string, data []byte, perm fs.FileMode) error {
	err := w.inner.WriteFile(name, data, perm)
	s := w.step(KindWriteFile, name)
	s.Arg, s.Err, s.Data = fmt.Sprintf("%#o", uint32(perm)), w.r.errText(err), w.r.red.Bytes(data)
	w.r.add(s)
	return err
}

func (w *recRaw) Root() string { return w.inner.Root() }

// infoText renders an lstat answer: "MODE HEXMODE size=N uid=N mtime=T".
func infoText(info fs.FileInfo) string {
	uid, ok := fsview.OwnerUID(info)
	owner := "uid=-"
	if ok {
		owner = fmt.Sprintf("uid=%d", uid)
	}
	return fmt.Sprintf("%s %#x size=%d %s mtime=%s", info.Mode(), uint32(info.Mode()), info.Size(), owner,
		info.ModTime().UTC().Format(time.RFC3339Nano))
}
