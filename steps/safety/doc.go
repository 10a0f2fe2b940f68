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
//	files.list                      "<n> <mode> <uid> <gid> <path>", or "<n> - - - <path>" for a file that did not exist
//	restore.sh                      the restore script (0700, constant: restoreScript)
//	taken                           when the snapshot was complete
//
// Arm starts a dead-man on the host that runs `/bin/sh DIR/restore.sh
// deadman` after a delay, outliving the SSH session and the runner: a
// transient systemd timer where systemd is PID 1, else a detached setsid
// sleeper. Arm records it in DIR/armed. Restore runs the same script at
// once over the session ("session"). The script replaces each table with
// iptables-restore from the snapshot (never a flush), puts the saved files
// back (or removes those that did not exist) and writes DIR/restored.
//
// Disarm and the dead-man race for one atomic token, mkdir DIR/claim: the
// dead-man restores only if it made it, Disarm succeeds only if it made
// it. So once Disarm returned nil the rollback can never run, even if
// stopping the timer or killing the sleeper failed half-way, and when the
// dead-man won, Disarm says so (ErrRolledBack) instead of pretending.
//
// The shell that runs on hosts lives in scripts/*.sh, embedded; data
// reaches it only as positional parameters.
package safety
