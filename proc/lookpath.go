package proc

import (
	"os"
	"os/exec"
	"strings"
	"sync"
)

// lookPaths caches LookPath's answers: key PATH + "\x00" + name, value the
// path found.
var lookPaths sync.Map

// LookPath resolves name as exec.LookPath does (the same errors), once per
// PATH value and name in this process: every command of a run names the
// same four tools, and each exec.Command would walk PATH again (one stat(2)
// per directory, a dozen on a long PATH). Only a found path is kept, so a
// tool installed later is found by the next call; a name with a slash is
// not looked up. The path is PATH's directory joined with name, not a
// resolved link: a tool under /run/current-system/sw/bin follows the link
// when it is executed, as before.
func LookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		return exec.LookPath(name)
	}
	key := os.Getenv("PATH") + "\x00" + name
	if p, ok := lookPaths.Load(key); ok {
		return p.(string), nil
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", err
	}
	lookPaths.Store(key, p)
	return p, nil
}
