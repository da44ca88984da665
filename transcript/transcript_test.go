package transcript

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFormatParseRoundTrip(t *testing.T) {
	exit := 7
	in := &Transcript{
		Header: Header{Tool: "nixfleet-activate dev", Command: "activate", StateDir: "/var/lib/nixfleet-activate",
			UID: 0, Events: true, Layers: map[string][]string{"": {"RegularReader", "Syncer"}, "proc:": nil}, Start: time.Date(2026, 11, 30, 12, 0, 0, 123456789, time.UTC), Exit: &exit},
		Steps: []Step{
			{Kind: KindNow, At: time.Microsecond, Result: "0s"},
			{Kind: KindReadlink, At: 2 * time.Microsecond, Path: "/run/current-system", Result: "/nix/store/x y"},
			{Kind: KindRun, At: 3 * time.Millisecond, Cmd: &Command{Argv: []string{"nix-store", "", `"q"`, "a\nb"}, Exit: 1,
				Stdout: []byte("no newline"), Stderr: []byte("-- marker --\nerror: x\n"), Took: 120 * time.Millisecond, Truncated: true}},
			{Kind: KindReadFile, At: 4 * time.Millisecond, Path: "/proc/sys/kernel/random/boot_id", Data: []byte("abc\n"), Result: "size=4"},
			{Kind: KindLstat, At: 5 * time.Millisecond, Path: "/nope", Err: "errno=ENOENT"},
		},
		Outcome: []byte(`{"outcome":"switch-failed"}`),
		Notes:   []string{"a note"},
	}
	out, err := Parse(Format(in))
	require.NoError(t, err)
	assert.Equal(t, in.Header, out.Header)
	assert.Equal(t, in.Steps, out.Steps)
	assert.JSONEq(t, string(in.Outcome), string(out.Outcome))
	assert.Equal(t, in.Notes, out.Notes)
}

func TestRedactsSecrets(t *testing.T) {
	red := NewRedactor([]string{"https://alice:s3cr3tpw@cache.example/?token=abcd1234&priority=40"}, map[string]string{"api_token": "zzzz9999"})
	text := red.Text("--option substituters https://alice:s3cr3tpw@cache.example/?token=abcd1234&priority=40 meta zzzz9999 " +
		"machine h login u password hunter22 access-tokens = github.com=ghp_x")
	for _, secret := range []string{"s3cr3tpw", "alice", "abcd1234", "zzzz9999", "hunter22", "ghp_x"} {
		assert.NotContains(t, text, secret)
	}
	assert.Contains(t, text, "priority=40", "harmless parameters stay")
	assert.Equal(t, map[string]string{"api_token": Redacted, "rollout": "r1"}, RedactMeta(map[string]string{"api_token": "x", "rollout": "r1"}))
}

// corpus returns the real transcripts kept as regression scenarios.
func corpus(t *testing.T) map[string]*Transcript {
	files, err := filepath.Glob("testdata/*.txtar")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	out := map[string]*Transcript{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		tr, err := Parse(data)
		require.NoError(t, err, f)
		out[filepath.Base(f)] = tr
	}
	return out
}

// TestCorpusReplays: every transcript recorded on a real host (Nix 2.8,
// systemd 252 in a container) replays green against the current pipeline,
// to the same outcome.
func TestCorpusReplays(t *testing.T) {
	for name, tr := range corpus(t) {
		t.Run(name, func(t *testing.T) {
			res, err := Replay(context.Background(), tr, nil)
			require.NoError(t, err)
			assert.Equal(t, res.Total, res.Steps)
		})
	}
}

// TestReplayNamesTheFirstDivergence: a command line the transcript does
// not have fails with a diff naming the step and the differing argument.
func TestReplayNamesTheFirstDivergence(t *testing.T) {
	for name, tr := range corpus(t) {
		i := firstRun(tr)
		if i < 0 {
			continue
		}
		tr.Steps[i].Cmd.Argv = append(append([]string(nil), tr.Steps[i].Cmd.Argv...), "--extra")
		_, err := Replay(context.Background(), tr, nil)
		var div *Divergence
		require.True(t, errors.As(err, &div), "%s: %v", name, err)
		assert.Equal(t, i, div.Index)
		msg := err.Error()
		assert.Contains(t, msg, "another command line")
		assert.Contains(t, msg, "- --extra", "the argument the transcript has and the run does not")
		assert.True(t, strings.HasSuffix(msg, "(- transcript, + this run)"))
		return
	}
	t.Fatal("no corpus transcript runs a command")
}

// TestReplayFailsOnLeftOverSteps: a run that ends before its transcript
// diverges too.
func TestReplayFailsOnLeftOverSteps(t *testing.T) {
	for _, tr := range corpus(t) {
		tr.Steps = append(tr.Steps, Step{Kind: KindLock, Path: "/run/nixos/switch-to-configuration.lock", Result: "free"})
		_, err := Replay(context.Background(), tr, nil)
		var div *Divergence
		require.True(t, errors.As(err, &div), "%v", err)
		assert.True(t, div.Ended)
		return
	}
}

func firstRun(tr *Transcript) int {
	for i, s := range tr.Steps {
		if s.Kind == KindRun {
			return i
		}
	}
	return -1
}

// TestScenarioOfCorpus: each corpus transcript converts to a scenario that
// declares the target and asserts the recorded outcome (run on the
// simulated host by testscripts' TestTranscriptScenarios).
func TestScenarioOfCorpus(t *testing.T) {
	for name, tr := range corpus(t) {
		out, err := tr.DecodeOutcome()
		require.NoError(t, err)
		sc := ToScenario(tr)
		assert.Contains(t, sc.Script, "running old", name)
		if out != nil {
			assert.Contains(t, sc.Script, "outcome "+string(out.Kind), name)
		}
	}
}
