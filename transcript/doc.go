// Package transcript records one run of the pipeline on a real host and
// replays it.
//
// A Transcript is everything the pipeline asked of the host during one
// Activate, Rollback or Recover call, in the order it asked: each command
// (argv, exit status, stdout, stderr, start offset and duration), each
// primitive filesystem call of the view (lstat, readlink, file reads and
// writes: how link reads such as /run/current-system resolve), the switch
// lock probe's answer, the clock readings and sleeps, the event watch's
// wake-ups, and the outcome. It is stored as a txtar archive (Format,
// Parse): a header of "key: value" lines, a "steps" file of one line per
// step, and one file per command output or file content, so a person can
// read it in a bug report.
//
// A Recorder wraps the real seams (proc.Runner, fsview.Raw, real.Locker,
// clock.Clock, events.Source, lockdiag.Host) in recording decorators; the
// binary's --record FILE uses it. Replay runs the pipeline again with every
// seam answered from a transcript: the current code must ask the same
// questions in the same order with the same arguments, or Replay fails with
// a Divergence naming the first step that differs.
//
// Secrets never reach the file: --meta values whose key looks secret
// (token, secret, password, key, auth, ...) and substituter credentials
// (user:password@ in a URL, token-like query parameters, netrc-style
// "password" fields, NIX_CONFIG access-tokens) are replaced by [REDACTED]
// (Redactor).
package transcript
