package real

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// Realise runs RealiseCmd under Config.RealiseTimeout and returns the path
// nix-store printed last on stdout: gcRoot when one was given (Nix 2.8
// prints the root, a symlink to storePath), else the store path; the
// pipeline checks which store path that is. Errors: *pipeline.RealiseError when nix-store exits non-zero,
// its Kind from ClassifyRealise over the whole stderr and its Stderr the
// last pipeline.MaxStderrTail bytes; a plain error on timeout, when the
// command cannot run, or when it succeeds without printing a path
// (ErrBadOutput).
//
// Nix folds an HTTP 401/403/407 from a binary cache into "not there", so a
// failure that may hide one (mayHideRefusal) is run once more as
// DiagnoseRealiseCmd under the command timeout: when its status lines show
// a refused request, the kind becomes unauthorized and those lines are
// appended to Stderr. A diagnosis that fails to run changes nothing.
//
// A realise that failed over its GC root (stderr quotes the root, its
// temporary link or one of its directories: Nix 2.8 could not make the
// link, see namesRootPath) is run again without one: the root protects the closure, it must not stop the activation. The
// path then printed is the store path, which tells the caller no root was
// made.
func (b *Backend) Realise(ctx context.Context, storePath, gcRoot string) (string, error) {
	// nix-store's progress (copying, downloading, warnings) reaches the log
	// as it is printed, not when the realise ends (proc.WithStderrLines).
	streamed := proc.WithStderrLines(ctx, func(line string) { b.cfg.Logger.Info("nix-store", "stderr", line) })
	res, err := b.run(streamed, b.RealiseCmd(storePath, gcRoot), b.cfg.RealiseTimeout)
	if err != nil {
		return "", err
	}
	if gcRoot != "" && res.ExitCode != 0 && namesRootPath(string(res.Stderr), gcRoot) {
		b.cfg.Logger.Warn("GC root not made, realising without it", "root", gcRoot, "stderr", lastNonEmptyLine(string(res.Stderr)))
		return b.Realise(ctx, storePath, "")
	}
	if res.ExitCode != 0 {
		stderr := string(res.Stderr)
		re := &pipeline.RealiseError{Kind: ClassifyRealise(stderr), ExitCode: res.ExitCode, Stderr: stderr}
		if mayHideRefusal(re.Kind, stderr) {
			b.diagnose(ctx, storePath, re)
		}
		re.Stderr = pipeline.Tail(re.Stderr, pipeline.MaxStderrTail)
		return "", re
	}
	return ParseRealisedPath(string(res.Stdout))
}

// refusalTraces are what an HTTP 401/403/407 leaves in Nix 2.8's default
// output (observed): the narinfo refused reads "don't know how to build",
// the NAR "does not exist in binary cache", nix-cache-info "does not
// appear to be a binary cache".
var refusalTraces = []string{"don't know how to build these paths", "does not exist in binary cache",
	"does not appear to be a binary cache"}

// quotedPath matches a path Nix quotes in an error ('/x/y'); compiled on
// first use.
var quotedPath = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`'(/[^'\n]+)'`) })

// namesRootPath reports whether stderr quotes gcRoot, its temporary link
// or one of its directories, as Nix 2.8's errors about making the root do
// (observed): "cannot create symlink 'ROOT'; already exists", "creating
// symlink from 'ROOT.tmp-PID-N' to 'P': Operation not permitted", "'DIR'
// is not a directory". "/" alone does not count.
func namesRootPath(stderr, gcRoot string) bool {
	for _, m := range quotedPath().FindAllStringSubmatch(stderr, -1) {
		p := strings.TrimRight(m[1], "/")
		if p != "" && (strings.HasPrefix(gcRoot, p+"/") || p == gcRoot || strings.HasPrefix(p, gcRoot+".tmp-")) {
			return true
		}
	}
	return false
}

// mayHideRefusal reports a realise failure that a refused request may
// explain: classified not-found or corrupt-cache and bearing a refusal
// trace, or unreachable only because a substituter "does not appear to be
// a binary cache". Signature and content failures never are; nor is an
// unreachable one otherwise: a rerun would repeat its retries (4.6 s with
// Nix 2.8), and the verdict is retryable anyway, so a refusal behind it
// shows once the cache is back.
func mayHideRefusal(kind pipeline.RealiseFailure, stderr string) bool {
	switch {
	case kind == pipeline.RealiseUnreachable:
		return strings.Contains(stderr, "does not appear to be a binary cache") && !strings.Contains(stderr, "; retrying in ")
	case kind != pipeline.RealiseNotFound && kind != pipeline.RealiseCorrupt:
		return false
	}
	for _, t := range refusalTraces {
		if strings.Contains(stderr, t) {
			return true
		}
	}
	return false
}

// diagnose reruns the realise at --debug and retypes re as unauthorized
// when a request was refused.
func (b *Backend) diagnose(ctx context.Context, storePath string, re *pipeline.RealiseError) {
	res, err := b.run(ctx, b.DiagnoseRealiseCmd(storePath), b.cfg.CommandTimeout)
	if err != nil {
		return
	}
	if lines := RefusedRequests(string(res.Stderr)); len(lines) > 0 {
		re.Kind = pipeline.RealiseUnauthorized
		re.Stderr = strings.TrimRight(re.Stderr, "\n") + "\n" + strings.Join(lines, "\n") + "\n"
	}
}

// SetProfile runs SetProfileCmd (nix-env --profile P --set PATH, which adds
// generation max+1 in Nix 2.8). Errors: *pipeline.CommandError on a
// non-zero exit; a plain error on timeout or when it cannot run.
func (b *Backend) SetProfile(ctx context.Context, profile, storePath string) error {
	_, err := b.runChecked(ctx, b.SetProfileCmd(profile, storePath))
	return err
}

// RollbackProfile runs RollbackCmd (nix-env --profile P --rollback); the
// pipeline no longer uses it (Rollback and the restore name a generation
// with SwitchGeneration), tests and tools compare it with the simulator. Nix
// 2.8 exits 1 with "no profile version older than the current (N) exists"
// at the first generation. Errors: *pipeline.CommandError on a non-zero
// exit; a plain error on timeout or when it cannot run.
func (b *Backend) RollbackProfile(ctx context.Context, profile string) error {
	_, err := b.runChecked(ctx, b.RollbackCmd(profile))
	return err
}

// SwitchGeneration runs SwitchGenerationCmd (nix-env --profile P
// --switch-generation N). Nix 2.8 prints "switching profile from version M
// to N" on stderr and exits 0; for a missing generation it exits 1 with
// "error: profile version N does not exist". Errors: *pipeline.CommandError
// on a non-zero exit; a plain error on timeout or when it cannot run.
func (b *Backend) SwitchGeneration(ctx context.Context, profile string, generation int) error {
	_, err := b.runChecked(ctx, b.SwitchGenerationCmd(profile, generation))
	return err
}

// ListGenerations runs ListGenerationsCmd and parses it with
// ParseGenerations in the host's local time zone (nix-env prints local
// time). A profile that does not exist yields no generations (Nix 2.8 exits
// 0 and prints nothing). Errors: *pipeline.CommandError on a non-zero exit;
// ErrBadOutput (wrapped) on an unparsable line; a plain error on timeout.
func (b *Backend) ListGenerations(ctx context.Context, profile string) ([]Generation, error) {
	res, err := b.runChecked(ctx, b.ListGenerationsCmd(profile))
	if err != nil {
		return nil, err
	}
	return ParseGenerations(string(res.Stdout), time.Local)
}
