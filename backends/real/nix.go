package real

import (
	"context"
	"time"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// Realise runs RealiseCmd under Config.RealiseTimeout and returns the path
// nix-store printed last on stdout: gcRoot when one was given (Nix 2.8
// prints the root, a symlink to storePath), else the store path; the
// pipeline checks which store path that is. Errors: *pipeline.RealiseError when nix-store exits non-zero,
// its Kind from ClassifyRealise over the whole stderr and its Stderr the
// last pipeline.MaxStderrTail bytes; a plain error on timeout, when the
// command cannot run, or when it succeeds without printing a path
// (ErrBadOutput).
func (b *Backend) Realise(ctx context.Context, storePath, gcRoot string) (string, error) {
	res, err := b.run(ctx, b.RealiseCmd(storePath, gcRoot), b.cfg.RealiseTimeout)
	if err != nil {
		return "", err
	}
	if res.ExitCode != 0 {
		stderr := string(res.Stderr)
		return "", &pipeline.RealiseError{
			Kind:     ClassifyRealise(stderr),
			ExitCode: res.ExitCode,
			Stderr:   pipeline.Tail(stderr, pipeline.MaxStderrTail),
		}
	}
	return ParseRealisedPath(string(res.Stdout))
}

// SetProfile runs SetProfileCmd (nix-env --profile P --set PATH, which adds
// generation max+1 in Nix 2.8). Errors: *pipeline.CommandError on a
// non-zero exit; a plain error on timeout or when it cannot run.
func (b *Backend) SetProfile(ctx context.Context, profile, storePath string) error {
	_, err := b.runChecked(ctx, b.SetProfileCmd(profile, storePath))
	return err
}

// RollbackProfile runs RollbackCmd (nix-env --profile P --rollback). Nix
// 2.8 exits 1 with "no profile version older than the current (N) exists"
// at the first generation. Errors: *pipeline.CommandError on a non-zero
// exit; a plain error on timeout or when it cannot run.
func (b *Backend) RollbackProfile(ctx context.Context, profile string) error {
	_, err := b.runChecked(ctx, b.RollbackCmd(profile))
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
