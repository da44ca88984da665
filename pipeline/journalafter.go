package pipeline

// recordsDoneAction reports the steps that only record an action already
// taken, whose loss in a power cut recovery handles exactly as a crash
// right before their write: "profile-set" falls back to "realised" (the
// profile may or may not be set: abandoned either way), "fired" to
// "firing" (after the reboot that a power cut is, both are decided from
// the links: Recover's afterReboot). A step written before its action
// ("realised" before nix-env --set, "firing" before systemd-run) is never
// one of them: it must be on disk before the host changes.
//
// FileJournal.Save writes these without the state directory's fsync(2)
// after the rename (fsview.View.ReplaceFileUnsyncedName): 2 of the 10
// fsyncs of a run, each about 1 ms on an idle ext4 and up to 50 ms seen
// under load in the container. The record's contents are still synced
// before the rename, so it is never torn; the next synced record (or
// nothing, for "fired") makes the rename durable.
func recordsDoneAction(step Step) bool {
	return step == StepProfileSet || step == StepFired
}
