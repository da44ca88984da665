package main

// The hostile-state table (issue 10): the built binary against stub
// nix-store, nix-env, systemd-run and systemctl scripts on a temp PATH,
// every path flag pointing into a temp tree standing for "/". Each case
// plants what a hostile local user or a careless operator could (a link
// at the record, an unsafe state directory, a FIFO, a device, an
// oversized record, a second run, closed or broken streams) and checks the
// outcome, the exit code, and that nothing outside the state directory
// changed but what a run that goes on must change (profile and
// current-system). Needs root (chown, mknod, and the binary refuses
// non-root); the stubs synchronise through FIFOs, never sleeps.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

const (
	hostileOld = "0a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-nixos-system-web-24.05"
	hostileNew = "1a1b2c3d4f5g6h7i8j9k0l1m2n3p4q5r-nixos-system-web-24.11"
	// hostileTimeout bounds one binary run: a FIFO that blocked it would
	// otherwise hang the test.
	hostileTimeout = 20 * time.Second
)

// hostileHost is one temp tree with stub tools.
type hostileHost struct {
	t    *testing.T
	dir  string // holds root/, bin/, calls.log and the sync FIFOs
	root string
	bin  string // the binary
	// transcript is --record's FILE ("" records nothing), outside root.
	transcript string
}

func (h *hostileHost) path(rel string) string { return filepath.Join(h.root, rel) }
func (h *hostileHost) stateDir() string       { return h.path("var/lib/nixfleet-activate") }
func (h *hostileHost) record() string         { return filepath.Join(h.stateDir(), "in-flight.json") }
func (h *hostileHost) calls() string          { return filepath.Join(h.dir, "calls.log") }

// newHostileHost builds the tree: two closures in the store, the profile
// at generation 1 (old), current- and booted-system old, a sentinel file
// /etc/shadow, an empty 0700 state directory, and the stubs.
func newHostileHost(t *testing.T, bin string) *hostileHost {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	h := &hostileHost{t: t, dir: dir, root: filepath.Join(dir, "root"), bin: bin}
	for _, d := range []string{"nix/store/" + hostileOld, "nix/store/" + hostileNew, "profiles", "run/nixos", "etc", "var/lib", "units"} {
		require.NoError(t, os.MkdirAll(h.path(d), 0o755))
	}
	for _, c := range []string{hostileOld, hostileNew} {
		require.NoError(t, os.MkdirAll(h.path("nix/store/"+c+"/bin"), 0o755))
		require.NoError(t, os.WriteFile(h.path("nix/store/"+c+"/bin/switch-to-configuration"), []byte("#!/bin/sh\n"), 0o755))
	}
	require.NoError(t, os.Mkdir(h.stateDir(), 0o700))
	require.NoError(t, os.WriteFile(h.path("etc/shadow"), []byte("root:secret\n"), 0o600))
	require.NoError(t, os.Symlink(h.path("nix/store/"+hostileOld), h.path("profiles/system-1-link")))
	require.NoError(t, os.Symlink("system-1-link", h.path("profiles/system")))
	for _, l := range []string{"run/current-system", "run/booted-system"} {
		require.NoError(t, os.Symlink(h.path("nix/store/"+hostileOld), h.path(l)))
	}
	h.writeStubs("")
	return h
}

// writeStubs writes the four tools; realiseHook runs inside nix-store
// --realise before it answers (a plant, a FIFO handshake).
func (h *hostileHost) writeStubs(realiseHook string) {
	stubs := map[string]string{
		"nix-store": realiseHook + `
[ "$1" = --realise ] || exit 1
if [ "$3" = --add-root ]; then # Nix 2.8: link the root, print the root's path
  mkdir -p "$(dirname "$4")" && ln -sfn "$2" "$4" && echo "$4" && exit 0
fi
echo "$2"`,
		"nix-env": `
profile=$2
case "$*" in
*--list-generations*) echo "   1   2026-01-01 00:00:00   (current)" ;;
*--set*)
  n=$(( $(ls -d "$profile"-*-link | wc -l) + 1 ))
  for last; do :; done
  ln -s "$last" "$profile-$n-link" && ln -sfn "$(basename "$profile")-$n-link" "$profile" ;;
*) exit 1 ;;
esac`,
		"systemd-run": `
unit=
for a; do case "$a" in --unit=*) unit=${a#--unit=} ;; esac; done
for last; do :; done
program=
for a; do program=$prev; prev=$a; done
closure=$(dirname "$(dirname "$program")")
ln -sfn "$closure" ` + h.path("run/current-system") + `
touch ` + h.path("units") + `/"$unit.service"`,
		"systemctl": `
verb=$1
for last; do :; done
case "$verb" in
show)
  if [ -e ` + h.path("units") + `/"$last" ]; then
    printf 'Result=success\nExecMainPID=42\nExecMainCode=1\nExecMainStatus=0\nLoadState=loaded\nActiveState=active\nSubState=exited\n'
  else
    printf 'Result=success\nExecMainPID=0\nExecMainCode=0\nExecMainStatus=0\nLoadState=not-found\nActiveState=inactive\nSubState=dead\n'
  fi ;;
stop|reset-failed) rm -f ` + h.path("units") + `/"$last" ;;
esac`,
	}
	binDir := filepath.Join(h.dir, "stubs")
	require.NoError(h.t, os.MkdirAll(binDir, 0o755))
	for name, body := range stubs {
		script := "#!/bin/sh\nPATH=/usr/bin:/bin\necho \"" + name + " $*\" >> " + h.calls() + "\n" + body + "\n"
		require.NoError(h.t, os.WriteFile(filepath.Join(binDir, name), []byte(script), 0o755))
	}
}

// flags point every path into the tree.
func (h *hostileHost) flags() []string {
	f := []string{"--root", "/", "--store-dir", h.path("nix/store"), "--profile", h.path("profiles/system"),
		"--current-system", h.path("run/current-system"), "--booted-system", h.path("run/booted-system"),
		"--lock", h.path("run/nixos/switch-to-configuration.lock"), "--state-dir", h.stateDir(),
		"--agent-lock", h.path("run/nixfleet-activate.lock"),
		"--poll-interval", "10ms", "--poll-budget", "5s", "--log-format", "json"}
	if h.transcript != "" {
		f = append(f, "--record", h.transcript)
	}
	return f
}

// command builds a binary run with the stubs first on PATH.
func (h *hostileHost) command(args ...string) *exec.Cmd {
	cmd := exec.Command(h.bin, append(h.flags(), args...)...)
	// Only the stubs: a real nix-store on the machine must not stand in.
	cmd.Env = append(os.Environ(), "PATH="+filepath.Join(h.dir, "stubs"))
	return cmd
}

// result is one finished binary run.
type result struct {
	exit           int
	stdout, stderr string
	outcome        map[string]any
}

// run runs cmd (stdout and stderr captured unless already set) to its
// end within hostileTimeout.
func (h *hostileHost) run(cmd *exec.Cmd) result {
	var stdout, stderr bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	require.NoError(h.t, cmd.Start())
	return h.wait(cmd, &stdout, &stderr)
}

func (h *hostileHost) wait(cmd *exec.Cmd, stdout, stderr *bytes.Buffer) result {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(hostileTimeout):
		_ = cmd.Process.Kill()
		<-done
		h.t.Fatalf("the binary hung (killed after %s); stderr: %s", hostileTimeout, stderr)
	}
	r := result{exit: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		h.t.Fatalf("the binary died of %s; stderr: %s", ws.Signal(), stderr)
	}
	_ = json.Unmarshal(stdout.Bytes(), &r.outcome)
	return r
}

// entry is one name of the tree as a snapshot saw it.
type entry struct {
	Mode   fs.FileMode
	UID    uint32
	Target string // a link's target
	Sum    string // a regular file's sha256
}

// snapshot describes every name under the root, keyed by relative path.
func (h *hostileHost) snapshot() map[string]entry {
	snap := map[string]entry{}
	require.NoError(h.t, filepath.WalkDir(h.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := entry{Mode: info.Mode(), UID: info.Sys().(*syscall.Stat_t).Uid}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			e.Target, err = os.Readlink(p)
		case info.Mode().IsRegular():
			var data []byte
			data, err = os.ReadFile(p)
			sum := sha256.Sum256(data)
			e.Sum = hex.EncodeToString(sum[:])
		}
		rel, _ := filepath.Rel(h.root, p)
		snap[rel] = e
		return err
	}))
	return snap
}

// changed lists the names that differ between two snapshots, outside the
// state directory.
func changed(before, after map[string]entry) []string {
	var names []string
	for _, name := range slices.Sorted(maps.Keys(joinKeys(before, after))) {
		if name == "var/lib/nixfleet-activate" || strings.HasPrefix(name, "var/lib/nixfleet-activate/") {
			continue
		}
		if b, a := before[name], after[name]; b != a {
			names = append(names, name)
		}
	}
	return names
}

func joinKeys(a, b map[string]entry) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

// switched is what a run that settles changes outside the state
// directory: the new generation, the profile, current-system, the stub's
// unit marker, and the agent lock file.
var switched = []string{"profiles/system", "profiles/system-2-link", "run/current-system", "run/nixfleet-activate.lock", "units/nixfleet-activate-switch.service"}

// refused is what a refused run may change: the agent lock file only.
var refused = []string{"run/nixfleet-activate.lock"}

// hostileCase is one row of the table.
type hostileCase struct {
	name string
	// plant prepares the tree (and may rewrite the stubs).
	plant func(h *hostileHost)
	// args are the binary's arguments after the path flags (default:
	// activate the new closure).
	args []string
	// exec runs the binary its own way (closed or broken streams, two
	// runs); nil runs h.command(args...).
	exec func(h *hostileHost, args []string) result
	// check asserts the run's result; may is what it may change outside
	// the state directory.
	check func(t *testing.T, h *hostileHost, r result)
	may   []string
}

func TestHostileStateTable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: chown, mknod, and the binary refuses non-root")
	}
	bin := buildBinary(t, t.TempDir())
	for _, recorded := range []bool{false, true} {
		for _, c := range hostileCases() {
			name := c.name
			if recorded {
				name = "recorded/" + name
			}
			t.Run(name, func(t *testing.T) { runHostileCase(t, bin, c, recorded) })
		}
	}
}

// runHostileCase runs one row; recorded adds --record (a recorded run is
// hardened as an unrecorded one: same outcome, same changes) and replays
// the transcript of a plain run.
func runHostileCase(t *testing.T, bin string, c hostileCase, recorded bool) {
	h := newHostileHost(t, bin)
	if recorded {
		h.transcript = filepath.Join(h.dir, "run.txtar")
	}
	if c.plant != nil {
		c.plant(h)
	}
	args := c.args
	if args == nil {
		args = []string{"activate", h.path("nix/store/" + hostileNew)}
	}
	before := h.snapshot()
	var r result
	if c.exec != nil {
		r = c.exec(h, args)
	} else {
		r = h.run(h.command(args...))
	}
	c.check(t, h, r)
	after := h.snapshot()
	assert.Subset(t, c.may, changed(before, after), "changed outside the state directory; stderr: %s", r.stderr)
	assert.Equal(t, before["etc/shadow"], after["etc/shadow"], "the sentinel file changed")
	if data, err := os.ReadFile(h.transcript); recorded && c.exec == nil && err == nil {
		assert.NoError(t, replayOne(data), "the transcript replays")
	}
}

// wantOutcome checks kind, exit code and a reason fragment.
func wantOutcome(kind string, exit int, reason string) func(*testing.T, *hostileHost, result) {
	return func(t *testing.T, h *hostileHost, r result) {
		t.Helper()
		require.NotNil(t, r.outcome, "no JSON outcome; stdout %q stderr %s", r.stdout, r.stderr)
		assert.Equal(t, kind, r.outcome["outcome"], "stdout: %s", r.stdout)
		assert.Equal(t, exit, r.exit, "stderr: %s", r.stderr)
		assert.Contains(t, fmt.Sprint(r.outcome["reason"]), reason)
	}
}

// noCommands checks that no stub tool ran.
func noCommands(t *testing.T, h *hostileHost) {
	t.Helper()
	_, err := os.Stat(h.calls())
	assert.ErrorIs(t, err, fs.ErrNotExist, "a tool ran")
}

// refusedBadEnv: bad-environment, exit 1, no tool ran.
func refusedBadEnv(reason string) func(*testing.T, *hostileHost, result) {
	return func(t *testing.T, h *hostileHost, r result) {
		wantOutcome("bad-environment", ExitBadEnvironment, reason)(t, h, r)
		noCommands(t, h)
	}
}

func settled(t *testing.T, h *hostileHost, r result) {
	t.Helper()
	wantOutcome("settled", ExitSuccess, "")(t, h, r)
}

func hostileCases() []hostileCase {
	cases := []hostileCase{
		{name: "symlink at the record",
			plant: func(h *hostileHost) { mustDo(h.t, os.Symlink(h.path("etc/shadow"), h.record())) },
			check: refusedBadEnv("is not a regular file"), may: refused},
		{name: "symlink swapped in during realise",
			plant: func(h *hostileHost) { h.writeStubs("ln -s " + h.path("etc/shadow") + " " + h.record()) },
			check: func(t *testing.T, h *hostileHost, r result) {
				settled(t, h, r)
				_, err := os.Lstat(h.record())
				assert.ErrorIs(t, err, fs.ErrNotExist, "the record (which replaced the link) is cleared")
			}, may: switched},
		{name: "state directory group-writable",
			plant: func(h *hostileHost) { mustDo(h.t, os.Chmod(h.stateDir(), 0o770)) },
			check: refusedBadEnv("writable by group or others (mode 0770)"), may: refused},
		{name: "state directory world-writable",
			plant: func(h *hostileHost) { mustDo(h.t, os.Chmod(h.stateDir(), 0o1777)) },
			check: refusedBadEnv("writable by group or others"), may: refused},
		{name: "state directory owned by another user",
			plant: func(h *hostileHost) { mustDo(h.t, os.Chown(h.stateDir(), 65534, 65534)) },
			check: refusedBadEnv("is owned by uid 65534, not by the running user (uid 0)"), may: refused},
		{name: "state directory a file",
			plant: func(h *hostileHost) {
				mustDo(h.t, os.Remove(h.stateDir()))
				mustDo(h.t, os.WriteFile(h.stateDir(), []byte("x"), 0o600))
			},
			check: refusedBadEnv("is not a directory"), may: refused},
		{name: "state directory a symlink",
			plant: func(h *hostileHost) {
				mustDo(h.t, os.Remove(h.stateDir()))
				mustDo(h.t, os.Symlink(h.path("etc"), h.stateDir()))
			},
			check: refusedBadEnv("is a symbolic link"), may: refused},
		{name: "FIFO record",
			plant: func(h *hostileHost) { mustDo(h.t, unix.Mkfifo(h.record(), 0o600)) },
			check: refusedBadEnv("not a regular file (FIFO)"), may: refused},
		{name: "FIFO record, recover", args: []string{"recover"},
			plant: func(h *hostileHost) { mustDo(h.t, unix.Mkfifo(h.record(), 0o600)) },
			check: refusedBadEnv("not a regular file (FIFO)"), may: refused},
		{name: "FIFO record, status never blocks", args: []string{"status"},
			plant: func(h *hostileHost) { mustDo(h.t, unix.Mkfifo(h.record(), 0o600)) },
			check: func(t *testing.T, h *hostileHost, r result) {
				assert.Equal(t, ExitSuccess, r.exit, r.stderr)
				assert.Contains(t, r.stdout, "not a regular file")
			}},
		{name: "device record",
			plant: func(h *hostileHost) { mustDo(h.t, unix.Mknod(h.record(), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3)))) },
			check: refusedBadEnv("not a regular file (character device)"), may: refused},
		{name: "oversized record is kept aside whole",
			plant: func(h *hostileHost) { mustDo(h.t, os.WriteFile(h.record(), bytes.Repeat([]byte("{"), 2<<20), 0o600)) },
			check: func(t *testing.T, h *hostileHost, r result) {
				settled(t, h, r)
				assert.Contains(t, r.stderr, "file too large")
				kept, _ := filepath.Glob(h.record() + ".corrupt-*")
				require.Len(t, kept, 1)
				info, err := os.Stat(kept[0])
				require.NoError(t, err)
				assert.EqualValues(t, 2<<20, info.Size(), "nothing of the record lost")
			}, may: switched},
		{name: "corrupt record, recover prints JSON", args: []string{"recover"},
			plant: func(h *hostileHost) { mustDo(h.t, os.WriteFile(h.record(), []byte("{garbage"), 0o600)) },
			check: func(t *testing.T, h *hostileHost, r result) {
				wantOutcome("bad-environment", ExitBadEnvironment, "unusable (kept as")(t, h, r)
				noCommands(t, h)
			}, may: refused},
		{name: "corrupt record, status moves nothing", args: []string{"status"},
			plant: func(h *hostileHost) { mustDo(h.t, os.WriteFile(h.record(), []byte("{garbage"), 0o600)) },
			check: func(t *testing.T, h *hostileHost, r result) {
				assert.Equal(t, ExitSuccess, r.exit, r.stderr)
				assert.Contains(t, r.stdout, "left in place")
				_, err := os.Lstat(h.record())
				assert.NoError(t, err, "status moved the record")
			}},
		{name: "two runs at once", exec: twoRuns, check: settled, may: switched},
		{name: "closed stdout", exec: func(h *hostileHost, args []string) result {
			return h.run(h.shell(`exec "$@" >&-`, args))
		}, check: func(t *testing.T, h *hostileHost, r result) {
			assert.Equal(t, ExitOutputFailed, r.exit, r.stderr)
			assert.Contains(t, r.stderr, "outcome not written to stdout")
			assert.Contains(t, r.stderr, `"outcome":{"outcome":"settled"`)
		}, may: switched},
		{name: "closed stderr", exec: func(h *hostileHost, args []string) result {
			return h.run(h.shell(`exec "$@" 2>&-`, args))
		}, check: settled, may: switched},
		{name: "broken stdout pipe", exec: func(h *hostileHost, args []string) result {
			return h.runBrokenPipe(args, true)
		}, check: func(t *testing.T, h *hostileHost, r result) {
			assert.Equal(t, ExitOutputFailed, r.exit, r.stderr)
			assert.Contains(t, r.stderr, "broken pipe")
		}, may: switched},
		{name: "broken stderr pipe", exec: func(h *hostileHost, args []string) result {
			return h.runBrokenPipe(args, false)
		}, check: settled, may: switched},
		{name: "non-root refused before any command", exec: func(h *hostileHost, args []string) result {
			cmd := h.command(args...)
			cmd.Path = worldReadableCopy(h.t, h.bin)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			return h.run(cmd)
		}, check: refusedBadEnv("must run as root (running as uid 65534)")},
		{name: "tool missing from PATH",
			plant: func(h *hostileHost) { mustDo(h.t, os.Remove(filepath.Join(h.dir, "stubs", "nix-store"))) },
			check: refusedBadEnv("nix-store not found on PATH")},
		{name: "root other than / with the real backend", exec: func(h *hostileHost, args []string) result {
			return h.run(h.command(append([]string{"--root", h.root}, args...)...))
		}, check: refusedBadEnv("--root")},
		{name: "closure beginning with -", args: []string{"activate", "-rf"},
			check: func(t *testing.T, h *hostileHost, r result) {
				wantOutcome("invalid-input", ExitInvalidInput, `invalid closure "-rf"`)(t, h, r)
				noCommands(t, h)
			}},
	}
	for _, bad := range [][]string{{"--state-dir", "relative/dir"}, {"--state-dir", ""}, {"--switch-unit", "-x"}, {"--switch-unit", "a b"}} {
		cases = append(cases, hostileCase{name: "usage " + strings.Join(bad, " "), exec: func(h *hostileHost, args []string) result {
			return h.run(h.command(append(bad, args...)...))
		}, check: func(t *testing.T, h *hostileHost, r result) {
			assert.Equal(t, ExitUsage, r.exit, r.stderr)
			noCommands(t, h)
		}})
	}
	return cases
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	require.NoError(t, err)
}

// worldReadableCopy copies the binary where another user can execute it
// (test temp dirs are 0700).
func worldReadableCopy(t *testing.T, bin string) string {
	dir, err := os.MkdirTemp("", "nixfleet-hostile-")
	mustDo(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	mustDo(t, os.Chmod(dir, 0o755))
	data, err := os.ReadFile(bin)
	mustDo(t, err)
	copied := filepath.Join(dir, "nixfleet-activate")
	mustDo(t, os.WriteFile(copied, data, 0o755))
	return copied
}

// shell runs the binary through sh -c script "$@" (to close a stream).
func (h *hostileHost) shell(script string, args []string) *exec.Cmd {
	full := h.command(args...)
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, "sh"}, full.Args...)...)
	cmd.Env = full.Env
	return cmd
}

// runBrokenPipe runs the binary with stdout (or stderr) a pipe whose
// reading end is already closed: every write gets EPIPE (and SIGPIPE,
// which the binary must survive).
func (h *hostileHost) runBrokenPipe(args []string, stdout bool) result {
	r, w, err := os.Pipe()
	require.NoError(h.t, err)
	require.NoError(h.t, r.Close())
	defer w.Close()
	cmd := h.command(args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if stdout {
		cmd.Stdout = w
	} else {
		cmd.Stderr = w
	}
	require.NoError(h.t, cmd.Start())
	res := h.wait(cmd, &out, &errOut)
	return res
}

// twoRuns starts a first activation that blocks inside nix-store --realise
// (a FIFO handshake), runs a second one then, which must be skipped at
// agent-lock with nothing read or changed, and lets the first finish.
func twoRuns(h *hostileHost, args []string) result {
	t := h.t
	inRealise, release := filepath.Join(h.dir, "in-realise"), filepath.Join(h.dir, "release")
	mustDo(t, unix.Mkfifo(inRealise, 0o600))
	mustDo(t, unix.Mkfifo(release, 0o600))
	h.writeStubs("echo realising > " + inRealise + "; read _ < " + release)
	first := h.command(args...)
	var out1, err1 bytes.Buffer
	first.Stdout, first.Stderr = &out1, &err1
	mustDo(t, first.Start())
	sync, err := os.ReadFile(inRealise) // blocks until the first run is realising
	mustDo(t, err)
	require.Equal(t, "realising\n", string(sync))
	recordBefore, _ := os.ReadFile(h.record())

	second := h.run(h.command(args...))
	wantOutcome("skipped", ExitSkipped, "another nixfleet-activate run holds the agent lock")(t, h, second)
	assert.Equal(t, "agent-lock", second.outcome["phase"])
	recordAfter, _ := os.ReadFile(h.record())
	assert.Equal(t, recordBefore, recordAfter, "the second run touched the first's record")
	calls, _ := os.ReadFile(h.calls())
	assert.Equal(t, 1, strings.Count(string(calls), "\n"), "the second run ran a tool: %s", calls)

	mustDo(t, os.WriteFile(release, []byte("go\n"), 0o600)) // blocks until the stub reads
	return h.wait(first, &out1, &err1)
}
