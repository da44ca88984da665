package testscripts

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/txtar"
)

// checkHasCommands fails a scenario file whose script (the txtar comment,
// before any "-- name --" file) has no command line, only blanks and
// comments: testscript passes such a file, which is how an empty or
// truncated scenario would slip through a suite. A file that cannot be
// read is left to testscript to report.
func checkHasCommands(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(txtar.Parse(data).Comment), "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			return nil
		}
	}
	return fmt.Errorf("%s: no commands: an empty or truncated scenario", file)
}

// scenarioFilesOf lists the files testscript runs for dir (*.txtar and
// *.txt, as Params.Dir says).
func scenarioFilesOf(dir string) []string {
	var files []string
	for _, pattern := range []string{"*.txtar", "*.txt"} {
		found, _ := filepath.Glob(filepath.Join(dir, pattern))
		files = append(files, found...)
	}
	return files
}
