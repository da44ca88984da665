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
// for fds 1 and 2 unless it is ignored or notified). It then reserves each
// of fds 0-2 that is closed with /dev/null, so no file the run opens (the
// in-flight record!) can become fd 1 and receive the outcome. It returns
// the writers to use: a closed stdout gives one that fails every write, so
// the outcome's loss is noticed (ExitOutputFailed); a closed stderr gives
// io.Discard.
func guardStreams() (stdout, stderr io.Writer) {
	signal.Ignore(syscall.SIGPIPE)
	stdout, stderr = os.Stdout, os.Stderr
	for fd := 0; fd <= 2; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			continue
		}
		reserveFD(fd)
		switch fd {
		case 1:
			stdout = closedWriter{}
		case 2:
			stderr = io.Discard
		}
	}
	return stdout, stderr
}

// reserveFD opens /dev/null onto the closed descriptor fd (best effort).
func reserveFD(fd int) {
	null, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	if null != fd {
		_ = unix.Dup3(null, fd, 0)
		_ = unix.Close(null)
	}
}

// closedWriter stands for a standard stream that was closed when the
// process started.
type closedWriter struct{}

func (closedWriter) Write([]byte) (int, error) { return 0, syscall.EBADF }
