package main

import (
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// guardStreams makes a run survive broken or closed standard streams. It
// ignores SIGPIPE, so a write to a pipe whose reader is gone fails with
// EPIPE instead of killing the run half-way (the Go runtime raises SIGPIPE
// for fds 1 and 2 unless it is ignored or notified), and returns the
// writers to use: a stdout that was closed when the process started gives
// one that fails every write, so the outcome's loss is noticed
// (ExitOutputFailed) and it is logged instead; a closed stderr gives
// io.Discard.
func guardStreams() (stdout, stderr io.Writer) {
	signal.Ignore(syscall.SIGPIPE)
	stdout, stderr = os.Stdout, os.Stderr
	if closedAtStart(1) {
		stdout = closedWriter{}
	}
	if closedAtStart(2) {
		stderr = io.Discard
	}
	return stdout, stderr
}

// closedAtStart reports whether fd was closed when the process started.
//
// GOTCHA: the Go runtime (checkfds, Go 1.22+) opens /dev/null O_RDWR onto
// any of fds 0-2 that is closed at start, so no file the run opens (the
// in-flight record!) can become fd 1; a closed stream therefore looks like
// /dev/null opened read-write. Shells (`>/dev/null`), os/exec (a nil
// Stdout) and systemd (StandardOutput=null) open it write-only, so those
// deliberate discards still count as open.
func closedAtStart(fd int) bool {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return true
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		return false
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	return err != nil || flags&unix.O_ACCMODE == unix.O_RDWR
}

// closedWriter stands for a standard stream that was closed when the
// process started.
type closedWriter struct{}

func (closedWriter) Write([]byte) (int, error) { return 0, syscall.EBADF }
