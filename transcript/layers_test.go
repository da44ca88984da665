package transcript

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nixfleet/nixfleet-activate/fsview"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// TestRecordedViewHasTheBareViewsOptionals: a view over the recorder offers
// exactly the optional interfaces of the layer it wraps (the OS layer's
// O_NOFOLLOW read and renameat2, the in-memory layer's index and sharing),
// and the header lists them.
func TestRecordedViewHasTheBareViewsOptionals(t *testing.T) {
	for name, inner := range map[string]fsview.Raw{"os": fsview.NewOSRaw(t.TempDir()), "mem": fsview.NewMemRaw()} {
		t.Run(name, func(t *testing.T) {
			rec := NewRecorder(nil)
			bare := fsview.New(inner).Optionals()
			recorded := fsview.New(rec.Raw(inner, "")).Optionals()
			require.NotEmpty(t, abilities(bare))
			assert.Equal(t, abilities(bare), abilities(recorded))
			assert.Equal(t, map[string][]string{"": abilities(bare)}, rec.Transcript(Header{}, nil, nil).Header.Layers)
		})
	}
	assert.Equal(t, []string{abilityFileReplacer, abilityNoReplaceRenamer, abilityRegularReader, abilitySyncer, abilityUnsyncedReplacer},
		abilities(fsview.OptionalsOf(fsview.NewOSRaw("/"))), "the OS layer's hardened paths")
}

// hostileRaw stands for a local user racing the agent on the OS layer: it
// acts between the view's check and its use. After an lstat finds plantAt
// missing it creates it; just before a plain read of growAt it makes that
// file larger than any bound. The OS layer's own calls (its optional
// interfaces, forwarded) are atomic: nothing can act inside them.
type hostileRaw struct {
	fsview.Raw
	host            string
	plantAt, growAt string
}

func (h *hostileRaw) Optionals() fsview.Optionals { return fsview.OptionalsOf(h.Raw) }

func (h *hostileRaw) Lstat(name string) (fs.FileInfo, error) {
	info, err := h.Raw.Lstat(name)
	if name == h.plantAt && errors.Is(err, fs.ErrNotExist) {
		_ = os.WriteFile(filepath.Join(h.host, name), []byte("planted"), 0o600)
	}
	return info, err
}

func (h *hostileRaw) ReadFile(name string) ([]byte, error) {
	if name == h.growAt {
		_ = os.WriteFile(filepath.Join(h.host, name), bytes.Repeat([]byte("x"), 4096), 0o600)
	}
	return h.Raw.ReadFile(name)
}

// hostileTree holds /d/file ("data") and /d/old, with a hostile layer
// over it.
func hostileTree(t *testing.T) (string, *hostileRaw) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "d"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "d/file"), []byte("data"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "d/old"), []byte("old"), 0o600))
	return dir, &hostileRaw{Raw: fsview.NewOSRaw(dir), host: dir, plantAt: "/d/new", growAt: "/d/file"}
}

// TestRecordedViewIsHardenedAsTheBareView: against a racing writer, the
// recorded view behaves as the bare OS view (bounded read, no rename over
// a planted file), where a view over the generic fallbacks does not.
func TestRecordedViewIsHardenedAsTheBareView(t *testing.T) {
	views := map[string]func(fsview.Raw) *fsview.View{
		"bare":     fsview.New,
		"recorded": func(r fsview.Raw) *fsview.View { return fsview.New(NewRecorder(nil).Raw(r, "")) },
		"generic":  func(r fsview.Raw) *fsview.View { return fsview.New(struct{ fsview.Raw }{r}) },
	}
	for name, mk := range views {
		t.Run(name, func(t *testing.T) {
			dir, h := hostileTree(t)
			v := mk(h)
			data, readErr := v.ReadRegular("/d/file", 16)
			renameErr := v.RenameNoReplace("/d/old", "/d/new")
			planted, err := os.ReadFile(filepath.Join(dir, "d/new"))
			require.NoError(t, err)
			if name == "generic" {
				assert.Len(t, data, 4096, "the control: the fallbacks lose the race")
				assert.NoError(t, renameErr, "the control: rename replaced the planted file")
				return
			}
			require.NoError(t, readErr)
			assert.Equal(t, "data", string(data))
			assert.ErrorIs(t, renameErr, syscall.EEXIST)
			assert.Equal(t, "planted", string(planted))
		})
	}
}

// TestOptionalCallsReplay: the optional interfaces' calls recorded over the
// OS and the in-memory layer replay through a view that takes the same
// paths, answers and errors (the checked read's sentinels included) equal.
func TestOptionalCallsReplay(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	for name, inner := range map[string]fsview.Raw{"os": fsview.NewOSRaw(dir), "mem": fsview.NewMemRaw()} {
		t.Run(name, func(t *testing.T) {
			rec := NewRecorder(nil)
			rec.Arm()
			want := optionalCalls(fsview.New(rec.Raw(inner, "")))
			rec.Disarm()
			tr, err := Parse(Format(rec.Transcript(Header{Command: "activate"}, nil, nil)))
			require.NoError(t, err)
			kinds := map[Kind]bool{}
			for _, s := range tr.Steps {
				kinds[s.Kind] = true
			}
			if name == "os" {
				assert.True(t, kinds[KindReadRegular] && kinds[KindRenameNoReplace] && kinds[KindReplaceFile] && kinds[KindReplaceFileUnsynced], "%v", kinds)
			} else {
				assert.True(t, kinds[KindLongest] && kinds[KindReplaceLink], "%v", kinds)
			}
			p := NewReplayer(tr)
			got := optionalCalls(fsview.New(p.Raw("")))
			require.NoError(t, p.Finish())
			assert.Equal(t, want, got)
		})
	}
}

// optionalCalls exercises each optional interface through v and returns
// the answers, errors as their sentinel or errno.
func optionalCalls(v *fsview.View) []string {
	var out []string
	note := func(data []byte, err error) {
		switch {
		case errors.Is(err, fsview.ErrNotRegular):
			out = append(out, "not-regular")
		case errors.Is(err, fsview.ErrTooLarge):
			out = append(out, "too-large")
		case errors.Is(err, syscall.EEXIST):
			out = append(out, "exists")
		case errors.Is(err, fs.ErrNotExist):
			out = append(out, "missing")
		case err != nil:
			out = append(out, "error "+err.Error())
		default:
			out = append(out, "ok "+string(data))
		}
	}
	note(nil, v.MkdirAll("/s", 0o700))
	note(nil, v.ReplaceFile("/s/a", []byte("alpha"), 0o600))
	note(nil, v.ReplaceFileUnsyncedName("/s/u", []byte("unsynced"), 0o600))
	note(v.ReadFile("/s/u"))
	note(v.ReadRegular("/s/a", 16))
	note(v.ReadRegular("/s/a", 2))
	note(v.ReadRegular("/fifo", 16))
	note(v.ReadRegular("/s/none", 16))
	note(nil, v.ReplaceLink("/s/a", "/s/l"))
	note(v.ReadFile("/s/l"))
	note(nil, v.RenameNoReplace("/s/l", "/s/a"))
	note(nil, v.RenameNoReplace("/s/l", "/s/m"))
	note(v.ReadFile("/s/m"))
	return out
}

// TestInterruptedRecoverConverts: a recover the recording saw interrupted
// converts to `recover interrupt-at=`, with no gap in the way of the
// comparison.
func TestInterruptedRecoverConverts(t *testing.T) {
	tr := corpus(t)["recover-interrupted.txtar"]
	require.NotNil(t, tr)
	sc := ToScenario(tr)
	assert.Contains(t, sc.Script, "\nrecover interrupt-at=10ms\n")
	assert.Empty(t, sc.Blocking())
	assert.NotEmpty(t, tr.Header.Layers[""], "recorded with the host layer's optional interfaces")
}

// An activation's "firing" record precedes its profile set: converted with
// the profile the recover found on the starting generation, the kill goes
// before nix-env --set; once the profile moved, before systemd-run.
func TestFiringRecordConvertsByTheProfile(t *testing.T) {
	o := pipeline.Options{Profile: "/nix/var/nix/profiles/system"}
	rec := &pipeline.Record{Op: pipeline.OpActivate, Step: pipeline.StepFiring, Closure: "new", PreviousProfile: "old", PreviousGeneration: 1}
	at := func(gen string) string {
		c := &converter{o: o, t: &Transcript{Steps: []Step{{Kind: KindReadlink, Path: o.Profile, Result: "system-" + gen + "-link"}}}}
		kill, ok := c.killFor(rec)
		require.True(t, ok)
		return kill
	}
	assert.Equal(t, "kill-agent before nix-env --set", at("1"))
	assert.Equal(t, "kill-agent before systemd-run", at("2"))
	rec.PreviousProfile = "new"
	assert.Equal(t, "kill-agent before systemd-run", at("1"), "a profile already on the closure never moves: no evidence")
}
