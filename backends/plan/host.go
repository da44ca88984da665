package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/clock"
	"github.com/nixfleet/nixfleet-activate/events"
	"github.com/nixfleet/nixfleet-activate/fsview"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// LockProbeArgv0 names a switch lock probe in the record, as the simulated
// host's command log names it (a flock(2) call, not a process).
const LockProbeArgv0 = "flock(2)"

// Config configures New. Zero fields take the pipeline's defaults.
type Config struct {
	// StoreDir and CurrentSystem are the run's paths (pipeline.Options).
	StoreDir, CurrentSystem string
	// Start is the virtual clock's start (the host's time now).
	Start time.Time
	// Events gives the pipeline an event source (a run without
	// --poll-only); false: it polls only.
	Events bool
	// AssumeKernelChange: a closure that is not in the local store is
	// assumed to bring another kernel (the deferred case), else the
	// current system's critical components.
	AssumeKernelChange bool
}

// Kind is what one Step is.
type Kind string

const (
	// KindCommand is a command line the run issues (Argv).
	KindCommand Kind = "command"
	// KindProbe is a switch lock probe: Argv is [LockProbeArgv0, path].
	KindProbe Kind = "probe"
	// KindAgentLock is the agent lock taken (Path).
	KindAgentLock Kind = "agent-lock"
	// KindChange is a change of the filesystem (Change).
	KindChange Kind = "change"
	// KindWait is a wait on the clock of Wait (it may end early on an
	// event).
	KindWait Kind = "wait"
)

// Step is one thing the run did, in order.
type Step struct {
	Kind Kind
	// Argv is a command line as the real backend built it (KindCommand),
	// or [LockProbeArgv0, path] (KindProbe).
	Argv []string
	// Path is the agent lock's file (KindAgentLock).
	Path string
	// Change is the file change (KindChange).
	Change Change
	// Wait is the longest the wait could last (KindWait), a duration.
	Wait time.Duration
}

// RecordStep returns the "step" of a JSON state file a change wrote (the
// in-flight record's pipeline.Step), "" for anything else.
func (c Change) RecordStep() pipeline.Step {
	var rec struct {
		Step pipeline.Step `json:"step"`
	}
	if c.Op != "write" || json.Unmarshal(c.Data, &rec) != nil {
		return ""
	}
	return rec.Step
}

// Host is the planning host. Build it with New; it is not safe for
// concurrent use.
type Host struct {
	cfg     Config
	overlay *Overlay
	view    *fsview.View
	clk     *clock.Virtual
	events  *events.Mem
	units   map[string]*unit
	steps   []Step
	// pending is the index in steps of a write to a temporary name, until
	// it is renamed into place.
	pending map[string]int
}

// New returns a host over lower, a view of the real host's (or the
// simulated host's) filesystem that it only reads.
func New(lower *fsview.View, cfg Config) *Host {
	o := pipeline.Options{StoreDir: cfg.StoreDir, CurrentSystem: cfg.CurrentSystem}.WithDefaults()
	cfg.StoreDir, cfg.CurrentSystem = o.StoreDir, o.CurrentSystem
	h := &Host{cfg: cfg, overlay: NewOverlay(lower), clk: clock.NewVirtual(cfg.Start),
		units: map[string]*unit{}, pending: map[string]int{}}
	h.view = fsview.New(h.overlay)
	h.overlay.OnChange = h.recordChange
	if cfg.Events {
		h.events = events.NewMem(h.clk)
	}
	return h
}

// FS is the host's filesystem: the real one's contents, changes in memory.
func (h *Host) FS() *fsview.View { return h.view }

// Clock is the host's virtual clock; each After is recorded as a wait.
func (h *Host) Clock() clock.Clock { return recordingClock{h} }

// Events is the host's event source, nil when Config.Events is false.
func (h *Host) Events() events.Source {
	if h.events == nil {
		return nil
	}
	return h.events
}

// Steps returns what the run did so far, in order.
func (h *Host) Steps() []Step {
	out := make([]Step, 0, len(h.steps))
	for _, s := range h.steps {
		if s.Kind != "" { // a dropped temporary write
			out = append(out, s)
		}
	}
	return out
}

// Probe implements the real backend's Locker: the switch lock is free.
func (h *Host) Probe(name string) (pipeline.LockState, error) {
	h.steps = append(h.steps, Step{Kind: KindProbe, Argv: []string{LockProbeArgv0, name}})
	return pipeline.LockFree, nil
}

// AgentLock returns the agent lock at name, taken at once.
func (h *Host) AgentLock(name string) pipeline.AgentLock { return agentLock{h: h, path: name} }

type agentLock struct {
	h    *Host
	path string
}

func (l agentLock) TryLock() (func(), error) {
	l.h.steps = append(l.h.steps, Step{Kind: KindAgentLock, Path: l.path})
	return func() {}, nil
}

type recordingClock struct{ h *Host }

func (c recordingClock) Now() time.Time { return c.h.clk.Now() }

func (c recordingClock) After(d time.Duration) <-chan time.Time {
	c.h.steps = append(c.h.steps, Step{Kind: KindWait, Wait: d})
	return c.h.clk.After(d)
}

// recordChange keeps a change the pipeline made. A file written under a
// temporary name and renamed into place (an atomic replace) is one write
// of the final name; a temporary removed again leaves nothing.
func (h *Host) recordChange(c Change) {
	if i, ok := h.pending[c.Path]; ok && (c.Op == "rename" || c.Op == "remove") {
		delete(h.pending, c.Path)
		if c.Op == "remove" {
			h.steps[i].Kind = ""
			return
		}
		h.steps[i].Change.Path = c.To
		return
	}
	if c.Op == "write" && isTempName(path.Base(c.Path)) {
		h.pending[c.Path] = len(h.steps)
	}
	h.steps = append(h.steps, Step{Kind: KindChange, Change: c})
}

// errNotPlanned is returned for a command line the planning host does not
// answer: a run where every step succeeds does not issue it.
var errNotPlanned = errors.New("plan: command not planned")

func notPlanned(argv []string) error { return fmt.Errorf("%w: %q", errNotPlanned, argv) }

// quietly applies a command's own effects: they are the command's, not
// changes the pipeline makes.
func (h *Host) quietly(fn func() error) error { return h.overlay.Quietly(fn) }

// isTempName reports whether base is one of fsview's temporary names:
// ".<base>.tmp-<16 hex digits>" (fsview.CutTempSuffix), the inner base
// non-empty and without a newline.
func isTempName(base string) bool {
	before, ok := fsview.CutTempSuffix(base)
	return ok && len(before) >= 2 && before[0] == '.' && !strings.Contains(before, "\n")
}

// Assume changes the host's filesystem before the run without recording
// it: a state the plan takes for granted (see the caller's assumptions).
func (h *Host) Assume(fn func(*fsview.View) error) error {
	return h.quietly(func() error { return fn(h.view) })
}
