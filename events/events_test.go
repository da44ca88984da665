package events

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type countingWaker struct{ n int }

func (w *countingWaker) Wake() { w.n++ }

func pending(w Watch) bool {
	select {
	case <-w.C():
		return true
	default:
		return false
	}
}

func TestMemDeliversMatchingChangesCoalescedAndWakes(t *testing.T) {
	wk := &countingWaker{}
	m := NewMem(wk)
	w, err := m.Watch(context.Background(), Request{Paths: []string{"/run/current-system"}, Unit: "sw"})
	require.NoError(t, err)
	m.Changed("/run/booted-system")
	m.UnitEnded("other")
	assert.False(t, pending(w), "other names and units are not reported")
	m.Changed("/run/current-system")
	m.UnitEnded("sw")
	assert.True(t, pending(w), "a change is reported")
	assert.False(t, pending(w), "two changes before the take are one notification")
	assert.Equal(t, 2, wk.n, "each delivery wakes the clock")
	require.NoError(t, w.Close())
	m.Changed("/run/current-system")
	assert.False(t, pending(w), "nothing after Close")
}

func TestMemLosesAndFailsOnRequest(t *testing.T) {
	m := NewMem(nil)
	m.FailWatches(errors.New("no watch"))
	_, err := m.Watch(context.Background(), Request{Paths: []string{"/a"}})
	require.Error(t, err)
	w, err := m.Watch(context.Background(), Request{Paths: []string{"/a"}})
	require.NoError(t, err, "only the next watch fails")
	m.DropNext(1)
	m.Changed("/a")
	assert.False(t, pending(w))
	m.Changed("/a")
	assert.True(t, pending(w))
	assert.Equal(t, 1, m.Dropped)
	assert.Equal(t, 1, m.Delivered)
}

// replace renames a fresh link over link, as switch-to-configuration does.
func replace(t testing.TB, link, target string) {
	tmp := link + ".tmp"
	require.NoError(t, os.Symlink(target, tmp))
	require.NoError(t, os.Rename(tmp, link))
}

func TestOSReportsALinkReplacedByRenameAndNotItsNeighbours(t *testing.T) {
	root := t.TempDir()
	run := filepath.Join(root, "run")
	require.NoError(t, os.Mkdir(run, 0o755))
	require.NoError(t, os.Symlink("/nix/store/a", filepath.Join(run, "current-system")))
	w, err := OS{Root: root}.Watch(context.Background(), Request{Paths: []string{"/run/current-system"}})
	require.NoError(t, err)
	defer w.Close()
	assert.False(t, w.Units())
	require.NoError(t, os.WriteFile(filepath.Join(run, "other"), nil, 0o644))
	select {
	case <-w.C():
		t.Fatal("a neighbour's change was reported")
	case <-time.After(50 * time.Millisecond):
	}
	replace(t, filepath.Join(run, "current-system"), "/nix/store/b")
	select {
	case <-w.C():
	case <-time.After(5 * time.Second):
		t.Fatal("the replacement was not reported")
	}
}

func TestOSFailsForAMissingDirectory(t *testing.T) {
	_, err := OS{Root: t.TempDir()}.Watch(context.Background(), Request{Paths: []string{"/nowhere/current-system"}})
	require.Error(t, err)
}

// BenchmarkOSFlipToNotification: a rename over the watched link to the
// notification's receipt (inotify through fsnotify), p50 and p95 over the
// iterations.
func BenchmarkOSFlipToNotification(b *testing.B) {
	root := b.TempDir()
	link := filepath.Join(root, "run", "current-system")
	require.NoError(b, os.MkdirAll(filepath.Dir(link), 0o755))
	require.NoError(b, os.Symlink("/nix/store/a", link))
	w, err := OS{Root: root}.Watch(context.Background(), Request{Paths: []string{"/run/current-system"}})
	require.NoError(b, err)
	defer w.Close()
	lat := make([]time.Duration, 0, b.N)
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		replace(b, link, "/nix/store/"+string(rune('a'+i%2)))
		<-w.C()
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds()), "p95-µs")
}
