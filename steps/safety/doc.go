// Package safety is the safety net under every change estab makes on a
// host: the snapshot, the dead-man rollback, the restore and its
// verification, and the persistent save per distribution. Its exports are
// its whole API; steps calls them in the order of a transaction (snapshot,
// arm, change, verify, probe, save, disarm) and Restore on any failure.
//
// Before the first change on a host, TakeSnapshot stores in a root-only
// folder on the host (SnapshotRoot/<run-id>/, 0700):
//
//	iptables.save, ip6tables.save   *-save of each family the host has (0600)
//	files/<n>                       copies of the files the save will overwrite (0600)
//	files.list                      "<n> <mode> <uid> <gid> <path>", or "<n> - - - <path>" for a file that did not exist;
//	                                a symlink's target (resolved), whose mode and owner they are
//	links.list, files/<n>.link      "<n> <path>" per symlinked saved file, and where it pointed
//	restore.sh                      the restore script (0700, constant: restoreScript)
//	taken                           when the snapshot was complete
//
// Arm starts a dead-man on the host that runs `/bin/sh DIR/restore.sh
// deadman` after a delay, outliving the SSH session and the runner: a
// transient systemd timer where systemd is PID 1, else a detached setsid
// sleeper. Arm records it in DIR/armed. Restore runs the same script at
// once over the session ("session"). The script replaces the filter table
// of each family with iptables-restore from the snapshot (never a flush;
// nat, mangle and raw are left as they are now), puts the saved files back
// through their symlinks (or removes those that did not exist) and writes
// DIR/restored. AwaitRestored waits for that marker and says how it ended.
//
// Disarm and the dead-man race for one atomic token, mkdir DIR/claim: the
// dead-man restores only if it made it, Disarm succeeds only if it made
// it. So once Disarm returned nil the rollback can never run, even if
// stopping the timer or killing the sleeper failed half-way, and when the
// dead-man won, Disarm says so (ErrRolledBack) instead of pretending. A
// successful session restore takes the claim too (no dead-man fires after
// it), a failed one leaves it to the dead-man, and a failed arm claims it
// ("arm-failed") and stops the timer or kills the sleeper it started.
//
// Lock takes a host-wide lock for the change window, one per network
// namespace (/run/estab/lock-<netns inode>): a second run is refused while
// the first one's shell lives or its dead-man has not finished.
//
// The shell that runs on hosts lives in scripts/*.sh, embedded; data
// reaches it only as positional parameters.
package safety
