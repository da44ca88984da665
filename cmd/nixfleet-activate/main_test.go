package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain lets the test binary stand in for the installed one: invoked
// as nixfleet-activate (the link `scenario run` puts on the scripts' PATH
// for `exec`), it runs main instead of the tests.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "nixfleet-activate" {
		main()
	}
	os.Exit(m.Run())
}
