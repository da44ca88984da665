package metrics

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/fsview"
	"github.com/nixfleet/nixfleet-activate/lockdiag"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// readBack parses the textfile as node_exporter's textfile collector does
// (the Prometheus text parser).
func readBack(t *testing.T, file string) map[string]*dto.MetricFamily {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(f)
	require.NoError(t, err)
	return families
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	fam, ok := fams[Namespace+"_"+name]
	require.True(t, ok, "no metric %s", name)
	for _, m := range fam.GetMetric() {
		if len(labels) == 0 || (len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == labels[0]) {
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}

func TestTextfileReadBackAfterTwoRuns(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	view := fsview.NewOS("/")
	file := filepath.Join(dir, "nixfleet-activate.prom")
	start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	held := int64(125)

	for _, out := range []pipeline.Outcome{
		{Kind: pipeline.Settled, RebootPending: true},
		{Kind: pipeline.Skipped, LockHolders: []lockdiag.Holder{{PID: 7, Kind: lockdiag.KindSwitch, HeldForS: &held}}},
	} {
		var c Counters
		_, err := pipeline.LoadStateJSON(view, state, CountersFile, os.Geteuid(), &c)
		require.NoError(t, err)
		c.Count(out.Kind)
		require.NoError(t, pipeline.SaveStateJSON(view, state, CountersFile, os.Geteuid(), c))
		run := Run{Outcome: out, Start: start, Duration: 6275 * time.Millisecond, Generation: 3}
		require.NoError(t, WriteFile(file, Registry(run, c)))
	}

	fams := readBack(t, file)
	assert.Equal(t, 1.0, value(t, fams, "last_outcome", "skipped"))
	assert.Len(t, fams[Namespace+"_last_outcome"].GetMetric(), 1, "only the last kind")
	assert.Equal(t, float64(start.Unix()), value(t, fams, "last_start_timestamp_seconds"))
	assert.Equal(t, 6.275, value(t, fams, "last_duration_seconds"))
	assert.Equal(t, 3.0, value(t, fams, "generation"))
	assert.Equal(t, 0.0, value(t, fams, "reboot_pending"), "the last run's fact, not an earlier one's")
	assert.Equal(t, 1.0, value(t, fams, "outcomes_total", "settled"), "counted across runs")
	assert.Equal(t, 1.0, value(t, fams, "outcomes_total", "skipped"))
	assert.Equal(t, 125.0, value(t, fams, "switch_lock_held_seconds", string(lockdiag.KindSwitch)))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "no temporary file left beside the textfile")
}

func TestNoGenerationGaugeWhenUnknown(t *testing.T) {
	file := filepath.Join(t.TempDir(), "m.prom")
	require.NoError(t, WriteFile(file, Registry(Run{Outcome: pipeline.Outcome{Kind: pipeline.InvalidInput}}, Counters{})))
	_, ok := readBack(t, file)[Namespace+"_generation"]
	assert.False(t, ok, "an unread generation is left out, never 0")
}

// TestWriteFileErrorNamesThePath: a write error names the file asked for
// and the cause, not the temporary file written beside it.
func TestWriteFileErrorNamesThePath(t *testing.T) {
	file := filepath.Join(t.TempDir(), "missing", "m.prom")
	err := WriteFile(file, Registry(Run{Outcome: pipeline.Outcome{Kind: pipeline.InvalidInput}}, Counters{}))
	require.Error(t, err)
	assert.Equal(t, "writing "+file+": no such file or directory", err.Error())
	assert.ErrorIs(t, err, fs.ErrNotExist)
}
