// Package lockdiag explains a held switch lock
// (/run/nixos/switch-to-configuration.lock): which processes hold it, what
// they are (a switch-to-configuration, this agent's own unit, a process
// that inherited the descriptor, a zombie), since when, and what an
// operator can do about each.
//
// It reads only files, through an fsview.View, so the simulated host can
// feed it an in-memory /proc:
//
//   - /proc/locks (Linux fs/locks.c, lock_get_status): the exclusive
//     entries on the lock file's MAJ:MIN:INODE and the PID that took each;
//   - /proc/<pid>/fdinfo/<fd> "lock:" lines (fs/locks.c, show_fd_locks):
//     the processes whose open file description carries the lock. This
//     matters because a flock(2) lock belongs to the open file
//     description, not to a process: when the locker exits and a child
//     keeps the descriptor, /proc/locks still names the dead locker (in
//     the initial PID namespace) or hides the entry altogether (in a
//     namespace that cannot see the locker, e.g. a container: locks_show
//     skips a lock whose owner translates to PID 0, Linux 4.9+), while
//     fdinfo lists it either way;
//   - /proc/<pid>/stat, cmdline and cgroup (proc(5)): command, state,
//     parent, start time and systemd unit;
//   - /proc/stat's btime, to turn a start time in clock ticks into a wall
//     time (ClkTck is assumed to be 100).
//
// Facts that cannot be read stay unset; nothing is guessed.
package lockdiag
