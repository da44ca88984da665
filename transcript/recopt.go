package transcript

import (
	"fmt"
	"io/fs"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// Optionals implements fsview.Forwarder: each optional interface of the
// inner layer, wrapped so that its calls are steps. Syncer and
// ChangeNotifier pass through unrecorded (a replay has nothing to sync,
// and a notification is the layer telling, not the pipeline asking);
// Sharer's calls leave a note, as a replay cannot clone a host.
func (w *recRaw) Optionals() fsview.Optionals {
	in := fsview.OptionalsOf(w.inner)
	o := fsview.Optionals{Syncer: in.Syncer, ChangeNotifier: in.ChangeNotifier}
	if in.RegularReader != nil {
		o.RegularReader = recRegular{w, in.RegularReader}
	}
	if in.NoReplaceRenamer != nil {
		o.NoReplaceRenamer = recNoReplace{w, in.NoReplaceRenamer}
	}
	if in.FileReplacer != nil {
		o.FileReplacer = recFileReplacer{w, in.FileReplacer}
	}
	if in.LinkReplacer != nil {
		o.LinkReplacer = recLinkReplacer{w, in.LinkReplacer}
	}
	if in.UnsyncedFileReplacer != nil {
		o.UnsyncedFileReplacer = recUnsynced{w, in.UnsyncedFileReplacer}
	}
	if in.SymlinkIndex != nil {
		o.SymlinkIndex = recIndex{w, in.SymlinkIndex}
	}
	if in.Sharer != nil {
		o.Sharer = recSharer{w, in.Sharer}
	}
	return o
}

type recRegular struct {
	w  *recRaw
	in fsview.RegularReader
}

func (a recRegular) ReadRegular(name string, max int64) ([]byte, error) {
	data, err := a.in.ReadRegular(name, max)
	s := a.w.step(KindReadRegular, name)
	s.Arg, s.Err = fmt.Sprint(max), a.w.r.errText(err)
	s.Data = a.w.r.red.Bytes(data)
	if err == nil {
		s.Result = fmt.Sprintf("size=%d", len(data))
	}
	a.w.r.add(s)
	return data, err
}

type recNoReplace struct {
	w  *recRaw
	in fsview.NoReplaceRenamer
}

func (a recNoReplace) RenameNoReplace(oldname, newname string) error {
	err := a.in.RenameNoReplace(oldname, newname)
	s := a.w.step(KindRenameNoReplace, oldname)
	s.Arg, s.Err = normalName(a.w.prefix, newname), a.w.r.errText(err)
	a.w.r.add(s)
	return err
}

type recFileReplacer struct {
	w  *recRaw
	in fsview.FileReplacer
}

func (a recFileReplacer) ReplaceFile(name string, data []byte, perm fs.FileMode) error {
	return a.w.replaceStep(KindReplaceFile, name, data, perm, a.in.ReplaceFile(name, data, perm))
}

// replaceStep records a file replacement of kind (its mode, data and
// error) and returns err.
func (w *recRaw) replaceStep(kind Kind, name string, data []byte, perm fs.FileMode, err error) error {
	s := w.step(kind, name)
	s.Arg, s.Err, s.Data = fmt.Sprintf("%#o", uint32(perm)), w.r.errText(err), w.r.red.Bytes(data)
	w.r.add(s)
	return err
}

type recUnsynced struct {
	w  *recRaw
	in fsview.UnsyncedFileReplacer
}

func (a recUnsynced) ReplaceFileUnsyncedName(name string, data []byte, perm fs.FileMode) error {
	return a.w.replaceStep(KindReplaceFileUnsynced, name, data, perm, a.in.ReplaceFileUnsyncedName(name, data, perm))
}

type recLinkReplacer struct {
	w  *recRaw
	in fsview.LinkReplacer
}

func (a recLinkReplacer) ReplaceLink(target, name string) error {
	err := a.in.ReplaceLink(target, name)
	s := a.w.step(KindReplaceLink, name)
	s.Arg, s.Err = a.w.r.red.Text(target), a.w.r.errText(err)
	a.w.r.add(s)
	return err
}

type recIndex struct {
	w  *recRaw
	in fsview.SymlinkIndex
}

func (a recIndex) Longest(name string) (string, fs.FileInfo, string) {
	prefix, info, target := a.in.Longest(name)
	s := a.w.step(KindLongest, name)
	text := ""
	if info != nil {
		text = infoText(info)
	}
	s.Result = longestText(prefix, text, a.w.r.red.Text(target))
	a.w.r.add(s)
	return prefix, info, target
}

// recSharer forwards an in-memory layer's sharing; a clone is recorded
// like its original.
type recSharer struct {
	w  *recRaw
	in fsview.Sharer
}

func (a recSharer) Clone() fsview.Raw {
	a.w.r.Note("%s: a clone of an in-memory layer; a replay cannot clone", layerName(a.w.prefix))
	return a.w.r.Raw(a.in.Clone(), a.w.prefix)
}

func (a recSharer) Graft(src fsview.Raw, name string) error {
	if rec, ok := src.(*recRaw); ok {
		src = rec.inner
	}
	a.w.r.Note("%s: a graft between in-memory layers at %s; a replay cannot graft", layerName(a.w.prefix), name)
	return a.in.Graft(src, name)
}
