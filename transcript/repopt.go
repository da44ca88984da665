package transcript

import (
	"fmt"
	"io/fs"
	"slices"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// Optionals implements fsview.Forwarder: the optional interfaces the
// recorded layer had (Header.Layers), answered from their steps, so the
// replayed view takes the recorded view's paths. Sharer and ChangeNotifier
// are never offered: a replay cannot clone a host, and its layer changes
// nothing that could be reported.
func (w *repRaw) Optionals() fsview.Optionals {
	had := w.p.t.Header.Layers[w.prefix]
	has := func(name string) bool { return slices.Contains(had, name) }
	var o fsview.Optionals
	if has(abilitySyncer) {
		o.Syncer = repSyncer{}
	}
	if has(abilityRegularReader) {
		o.RegularReader = repOpt{w}
	}
	if has(abilityNoReplaceRenamer) {
		o.NoReplaceRenamer = repOpt{w}
	}
	if has(abilityFileReplacer) {
		o.FileReplacer = repOpt{w}
	}
	if has(abilityUnsyncedReplacer) {
		o.UnsyncedFileReplacer = repOpt{w}
	}
	if has(abilityLinkReplacer) {
		o.LinkReplacer = repOpt{w}
	}
	if has(abilitySymlinkIndex) {
		o.SymlinkIndex = repOpt{w}
	}
	return o
}

// repSyncer syncs nothing: Sync is not a step.
type repSyncer struct{}

func (repSyncer) Sync(string) error { return nil }

// repOpt answers the optional interfaces' calls from their steps.
type repOpt struct{ w *repRaw }

func (a repOpt) ReadRegular(name string, max int64) ([]byte, error) {
	s, err := a.w.take(KindReadRegular, name, fmt.Sprint(max))
	if err != nil {
		return nil, err
	}
	return append([]byte{}, s.Data...), nil
}

func (a repOpt) RenameNoReplace(oldname, newname string) error {
	_, err := a.w.take(KindRenameNoReplace, oldname, normalName(a.w.prefix, newname))
	return err
}

func (a repOpt) ReplaceFile(name string, _ []byte, perm fs.FileMode) error {
	_, err := a.w.take(KindReplaceFile, name, fmt.Sprintf("%#o", uint32(perm)))
	return err
}

func (a repOpt) ReplaceFileUnsyncedName(name string, _ []byte, perm fs.FileMode) error {
	_, err := a.w.take(KindReplaceFileUnsynced, name, fmt.Sprintf("%#o", uint32(perm)))
	return err
}

func (a repOpt) ReplaceLink(target, name string) error {
	_, err := a.w.take(KindReplaceLink, name, target)
	return err
}

// Longest answers nothing held (info nil) after a divergence, which has
// ended the run.
func (a repOpt) Longest(name string) (string, fs.FileInfo, string) {
	s, err := a.w.take(KindLongest, name, "")
	if err != nil {
		return "", nil, ""
	}
	prefix, text, target, err := parseLongest(s.Result)
	if err != nil || text == "" {
		return prefix, nil, target
	}
	info, err := parseInfo(prefix, text)
	if err != nil {
		return prefix, nil, target
	}
	return prefix, info, target
}
