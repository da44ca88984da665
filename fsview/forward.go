package fsview

// Optionals are a Raw layer's optional interfaces (optional.go), each nil
// when the layer lacks it. View takes them once, in New, and asks for an
// ability only through them.
type Optionals struct {
	Syncer       Syncer
	SymlinkIndex SymlinkIndex
	Sharer       Sharer
	FileReplacer FileReplacer
	// UnsyncedFileReplacer: ReplaceFile without the directory's sync.
	UnsyncedFileReplacer UnsyncedFileReplacer
	LinkReplacer         LinkReplacer
	ChangeNotifier       ChangeNotifier
	RegularReader        RegularReader
	NoReplaceRenamer     NoReplaceRenamer
}

// Forwarder is implemented by a Raw layer that decorates another (the
// transcript package's recorder and replayer): its Go type cannot have a
// method only when the layer it wraps has it, so it states its optional
// interfaces itself, and View takes those instead of asking its type. A
// decorator that forwards each interface of its inner layer keeps a View
// over it exactly as hardened as one over the inner layer (O_NOFOLLOW
// reads, renameat2 without replacing).
type Forwarder interface {
	Optionals() Optionals
}

// OptionalsOf returns raw's optional interfaces: a Forwarder's own answer,
// else those raw's type implements.
func OptionalsOf(raw Raw) Optionals {
	if f, ok := raw.(Forwarder); ok {
		return f.Optionals()
	}
	var o Optionals
	o.Syncer, _ = raw.(Syncer)
	o.SymlinkIndex, _ = raw.(SymlinkIndex)
	o.Sharer, _ = raw.(Sharer)
	o.FileReplacer, _ = raw.(FileReplacer)
	o.UnsyncedFileReplacer, _ = raw.(UnsyncedFileReplacer)
	o.LinkReplacer, _ = raw.(LinkReplacer)
	o.ChangeNotifier, _ = raw.(ChangeNotifier)
	o.RegularReader, _ = raw.(RegularReader)
	o.NoReplaceRenamer, _ = raw.(NoReplaceRenamer)
	return o
}

// Optionals returns the optional interfaces of the view's layer (what
// OptionalsOf gave for it), so a test can check that a decorated view is
// as able as a bare one.
func (v *View) Optionals() Optionals { return v.opt }
