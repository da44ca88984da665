package realtest

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// cgroupRoot is where the kernel's cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// containerCgroups creates one fresh cgroup named name, below this process's
// own cgroup, in every hierarchy systemd-nspawn uses to place a container,
// and returns their directories. The container's nspawn is moved into all of
// them before it starts.
//
// GOTCHA: with --keep-unit --register=no, nspawn (systemd 252) makes
// "payload" and "supervisor" subgroups of the cgroup it was started in, so two
// containers started from one cgroup share "payload" and their systemds fight
// over it. On a hybrid host (cgroup v1 plus a cgroup2 "unified" mount, this
// machine) nspawn reads its place from the unified hierarchy, not from
// name=systemd: moving only the name=systemd membership is not enough.
func containerCgroups(name string) ([]string, error) {
	own, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	var dirs []string
	switch {
	case exists(filepath.Join(cgroupRoot, "cgroup.controllers")): // pure cgroup v2
		dirs = append(dirs, filepath.Join(cgroupRoot, own["0"], name))
	case own["name=systemd"] != "": // legacy or hybrid
		dirs = append(dirs, filepath.Join(cgroupRoot, "systemd", own["name=systemd"], name))
		if exists(filepath.Join(cgroupRoot, "unified", "cgroup.controllers")) {
			dirs = append(dirs, filepath.Join(cgroupRoot, "unified", own["0"], name))
		}
	default:
		return nil, errors.New("no cgroup v2 and no name=systemd hierarchy found")
	}
	for _, d := range dirs {
		removeStaleCgroups(filepath.Dir(d))
		if err := os.MkdirAll(d, 0o755); err != nil {
			removeCgroups(dirs)
			return nil, err
		}
	}
	return dirs, nil
}

// cgroupPrefix starts the name of every cgroup StartContainer creates:
// "nixfleet-test-<pid>-<n>", pid being the test process's.
const cgroupPrefix = "nixfleet-test-"

// removeStaleCgroups removes the container cgroups under parent left behind
// by test processes that are gone (killed before their t.Cleanup ran). Only
// empty cgroups can be removed, so a live container is never touched.
func removeStaleCgroups(parent string) {
	stale, _ := filepath.Glob(filepath.Join(parent, cgroupPrefix+"*"))
	for _, dir := range stale {
		pid, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(dir), cgroupPrefix), "-")
		if pid != "" && !exists("/proc/"+pid) {
			_ = removeCgroupsOnce([]string{dir})
		}
	}
}

// ownCgroups maps each hierarchy's controller list ("0" for cgroup v2,
// "name=systemd", ...) to this process's path in it, from /proc/self/cgroup.
func ownCgroups() (map[string]string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	own := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "9:name=systemd:/init.scope" or "0::/user.slice/..."
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		key := parts[1]
		if parts[0] == "0" && key == "" {
			key = "0"
		}
		own[key] = parts[2]
	}
	return own, sc.Err()
}

// cgroupJoinScript moves the shell into every cgroup.procs named in
// $NIXFLEET_CGROUP_PROCS (space separated), then execs its arguments, so the
// program starts in its cgroups with no window in the old one.
const cgroupJoinScript = `for f in $NIXFLEET_CGROUP_PROCS; do echo $$ > "$f" || exit 125; done; exec "$@"`

func cgroupProcsList(dirs []string) string {
	files := make([]string, len(dirs))
	for i, d := range dirs {
		files[i] = filepath.Join(d, "cgroup.procs")
	}
	return strings.Join(files, " ")
}

// removeCgroups removes the cgroup trees under dirs, deepest first. cgroups
// can only be removed (rmdir) once empty, and the kernel empties them a
// moment after their last process died, so it retries for up to 2 s.
func removeCgroups(dirs []string) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := removeCgroupsOnce(dirs)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func removeCgroupsOnce(dirs []string) error {
	var errs []error
	for _, root := range dirs {
		var tree []string
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				tree = append(tree, p)
			}
			return nil
		})
		// Deepest first: longer paths sort after their parents.
		sort.Sort(sort.Reverse(sort.StringSlice(tree)))
		for _, p := range tree {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove cgroup %s: %w", p, err))
			}
		}
	}
	return errors.Join(errs...)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
