package transcript

import (
	"encoding/json"
	"time"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// Version is the transcript format's version, written in the header.
const Version = 1

// Kind names what a step asked of the host.
type Kind string

// Step kinds. The filesystem kinds are fsview.Raw's primitive calls, so a
// view's link resolution (lstat of each component, readlink of each link)
// appears step by step.
const (
	// KindRun is one command run through the proc.Runner.
	KindRun Kind = "run"
	// KindLstat, KindReadlink, KindReadFile and KindReadDir read the view.
	KindLstat    Kind = "lstat"
	KindReadlink Kind = "readlink"
	KindReadFile Kind = "readfile"
	KindReadDir  Kind = "readdir"
	// KindWriteFile, KindRename, KindSymlink, KindRemove and KindMkdir
	// change the view (the answer replayed is the error only).
	KindWriteFile Kind = "writefile"
	KindRename    Kind = "rename"
	KindSymlink   Kind = "symlink"
	KindRemove    Kind = "remove"
	KindMkdir     Kind = "mkdir"
	// KindReadRegular, KindReplaceFile, KindReplaceLink,
	// KindRenameNoReplace and KindLongest are the calls of fsview's optional
	// interfaces (RegularReader, FileReplacer, LinkReplacer,
	// NoReplaceRenamer, SymlinkIndex), steps only when the recorded layer
	// has them (Header.Layers).
	KindReadRegular Kind = "readregular"
	KindReplaceFile Kind = "replacefile"
	// KindReplaceFileUnsynced is UnsyncedFileReplacer's call.
	KindReplaceFileUnsynced Kind = "replacefile-unsynced"
	KindReplaceLink         Kind = "replacelink"
	KindRenameNoReplace     Kind = "renamenoreplace"
	KindLongest             Kind = "longest"
	// KindLock is one probe of the switch lock (real.Locker).
	KindLock Kind = "lock"
	// KindLockFile is the lock diagnosis's stat of the lock file
	// (lockdiag.Host.LockFile); KindDiagNow its clock reading.
	KindLockFile Kind = "lockfile"
	KindDiagNow  Kind = "diag-now"
	// KindNow is one clock.Clock.Now reading; KindSleep one After(d).
	KindNow   Kind = "now"
	KindSleep Kind = "sleep"
	// KindWatch starts an event watch; KindWake is a change notification
	// the pipeline took from a watch.
	KindWatch Kind = "watch"
	KindWake  Kind = "wake"
	// KindInterrupt is the run's context ending (SIGINT or SIGTERM to the
	// binary), placed before any step that saw it (Recorder.Interruptible).
	KindInterrupt Kind = "interrupt"
)

// Step is one question the pipeline asked and the host's answer.
type Step struct {
	Kind Kind
	// At is the wall time since the recording started when the step
	// began (informative: replay answers in order, not by time).
	At time.Duration
	// Path is the file, link or lock path; for the lock diagnosis's /proc
	// view it is prefixed "proc:". Watch: the watched paths, space
	// separated.
	Path string
	// Arg is the second operand: a symlink's target, a rename's new name,
	// a sleep's duration, a watch's unit.
	Arg string
	// Result is the answer in text: a readlink's target; an lstat's
	// "mode=0x... size=N uid=N mtime=RFC3339"; a lock's "free" or "held";
	// a now's offset from Header.Start; a watch's "units" or "".
	Result string
	// Err is the error returned: "errno=ENOENT" for an errno, else its
	// message; "" for success.
	Err string
	// Data is a readfile's contents, a readdir's listing (one "mode name"
	// line per entry) or a writefile's contents (informative).
	Data []byte
	// Cmd is a run step's command and result.
	Cmd *Command
}

// Command is one command the backend ran.
type Command struct {
	// Argv is the command line (after redaction).
	Argv []string
	// Exit is the exit status (0-255; 128+signo when killed).
	Exit int
	// Stdout and Stderr are the captured output (bounded as proc bounds
	// them).
	Stdout, Stderr []byte
	// Truncated: proc dropped output to its bounds.
	Truncated bool
	// Took is the command's wall duration.
	Took time.Duration
	// Err is the Runner's error text ("" when the command ran to its end);
	// Timeout marks one that ended because its context's deadline passed.
	Err     string
	Timeout bool
}

// Header says which run a transcript holds and how to run it again.
type Header struct {
	// Tool is the recording binary's name and version.
	Tool string
	// Command is the pipeline call: "activate", "rollback" or "recover".
	Command string
	// Target is activate's closure basename and the --meta values
	// (secret-looking ones redacted).
	Target pipeline.Target
	// Options are the pipeline options of the run.
	Options pipeline.Options
	// Backend is the real backend's configuration that shapes command
	// lines (substituters redacted).
	Backend BackendConfig
	// StateDir is the state directory (in-flight record, last-activation
	// record, confirmation).
	StateDir string
	// UID is the user the run ran as (the state directory's owner check).
	UID int
	// Layers are the optional interfaces of each recorded filesystem
	// layer, by step path prefix ("" the host view, "proc:" the lock
	// diagnosis's): fsview interface names such as "RegularReader". A
	// replay offers the same ones, so its view takes the same paths. Nil
	// in a transcript recorded before they were forwarded: its view took
	// the generic paths, and so does its replay.
	Layers map[string][]string
	// Events: the run watched for events (not --poll-only).
	Events bool
	// Start is the wall time when the recording started; now steps are
	// offsets from it.
	Start time.Time
	// Exit is the binary's exit status, nil when unknown (the Go API).
	Exit *int
}

// BackendConfig is the part of real.Config that shapes command lines, as
// the transcript stores it.
type BackendConfig struct {
	Substituters      []string      `json:"substituters,omitempty"`
	TrustedPublicKeys []string      `json:"trusted_public_keys,omitempty"`
	RealiseTimeout    time.Duration `json:"realise_timeout_ns,omitempty"`
	CommandTimeout    time.Duration `json:"command_timeout_ns,omitempty"`
}

// Transcript is one recorded run.
type Transcript struct {
	Header Header
	Steps  []Step
	// Outcome is the pipeline's outcome as JSON (meta redacted); "null"
	// for a Recover with nothing to recover.
	Outcome json.RawMessage
	// Error is a Recover's error text, "" otherwise.
	Error string
	// Notes are the recorder's warnings (a step it could not record).
	Notes []string
}

// Commands returns the run steps' commands in order.
func (t *Transcript) Commands() []*Command {
	var cmds []*Command
	for _, s := range t.Steps {
		if s.Kind == KindRun && s.Cmd != nil {
			cmds = append(cmds, s.Cmd)
		}
	}
	return cmds
}

// DecodeOutcome decodes the recorded outcome; nil for "null".
func (t *Transcript) DecodeOutcome() (*pipeline.Outcome, error) {
	if len(t.Outcome) == 0 || string(t.Outcome) == "null" {
		return nil, nil
	}
	var out pipeline.Outcome
	if err := json.Unmarshal(t.Outcome, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
