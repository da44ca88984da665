package main

import (
	"errors"
	"io"
)

// newSimEnvironment builds an environment on the embedded simulated host.
func newSimEnvironment(cfg config, stderr io.Writer) (*environment, error) {
	return nil, errors.New("--sim: not wired yet")
}
