package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/nixfleet/nixfleet-activate/fsview"
	"github.com/nixfleet/nixfleet-activate/nixprofile"
)

// readBasename resolves a link such as /run/current-system or the system
// profile (two levels: profile -> system-N-link -> store path) and returns
// the store path's basename. Errors: unreadable, dangling, or not a store
// path.
func (r *run) readBasename(link string) (string, error) {
	target, err := r.d.FS.EvalSymlinks(link)
	if err != nil {
		return "", err
	}
	if path.Dir(target) != path.Clean(r.o.StoreDir) {
		return "", fmt.Errorf("%s resolves to %s, not a store path", link, target)
	}
	return fsview.Basename(target), nil
}

// profileGeneration returns the generation the profile points at, from its
// first-level link (profile -> system-N-link); 0 when unreadable.
func (r *run) profileGeneration() int {
	target, err := r.d.FS.Readlink(r.o.Profile)
	if err != nil {
		return 0
	}
	n, _ := nixprofile.Generation(r.o.Profile, target)
	return n
}

// selfCorrectProfile points the profile back at closure when the switch's
// activation script moved it. Failures are warnings, never fatal: the host
// runs the expected closure either way.
func (r *run) selfCorrectProfile(ctx context.Context, closure string) (corrected bool, warnings []string) {
	got, err := r.readBasename(r.o.Profile)
	if err == nil && got == closure {
		return false, nil
	}
	r.log.Warn("profile moved off the activated closure; re-pointing", "profile", r.o.Profile, "now", got, "err", err)
	if err := r.d.Nix.SetProfile(ctx, r.o.Profile, r.storePath(closure)); err != nil {
		return false, []string{fmt.Sprintf("%s: profile points at %q, re-pointing failed: %v", PhaseProfileCorrect, got, err)}
	}
	return true, nil
}

// isNotExist reports a missing path.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// setProfile points the system profile at storePath and returns the new
// generation number (0 when it cannot be read).
func (r *run) setProfile(ctx context.Context, closure, storePath string) (int, *Outcome) {
	r.log.Info("nix-env --set", "profile", r.o.Profile, "path", storePath)
	if err := r.d.Nix.SetProfile(ctx, r.o.Profile, storePath); err != nil {
		if ctx.Err() != nil {
			out := interrupted(PhaseNixEnvSet, closure, ctx)
			return 0, &out
		}
		return 0, &Outcome{Kind: SwitchFailed, Phase: PhaseNixEnvSet, Closure: closure,
			Command: commandReport("nix-env --set", err), Reason: err.Error()}
	}
	return r.profileGeneration(), nil
}
