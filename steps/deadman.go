package steps

// The snapshot and the dead-man switch.
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

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/estab/estab/remote"
)

// SnapshotRoot is the folder on the host that holds one snapshot folder
// per run (created 0700 when missing).
const SnapshotRoot = "/var/lib/estab"

// snapshotRoot is SnapshotRoot; unit tests point it at a temporary folder.
var snapshotRoot = SnapshotRoot

// Dead-man mechanisms.
const (
	DeadmanSystemd = "systemd-run"
	DeadmanSetsid  = "setsid"
)

// deadmanArgv0 is the sleeper's $0: with its folder as last argument it is
// how Disarm recognises the sleeper in /proc/<pid>/cmdline.
const deadmanArgv0 = "estab-deadman"

// ErrRolledBack is wrapped by Disarm's error when the dead-man fired first:
// the host's rules (and saved files) were put back to the snapshot.
var ErrRolledBack = errors.New("dead-man already fired: the rollback ran")

// A Snapshot is what the host had before the first change, stored on the host.
type Snapshot struct {
	Dir      string            // SnapshotRoot/<run-id>
	RunID    string            //
	Families []Family          // families whose *-save is in Dir (<cmd>.save)
	Files    map[string]string // saved-file path -> copy in Dir ("" if it did not exist)
}

// A Deadman is an armed rollback on the host.
type Deadman struct {
	Mechanism string    // DeadmanSystemd | DeadmanSetsid
	ID        string    // unit name (estab-rollback-<run-id>) or pid of the sleeper
	Deadline  time.Time // when it fires, by the host's clock
	Dir       string    // the snapshot folder it restores
}

func (d Deadman) String() string {
	if d.Mechanism == "" {
		return ""
	}
	what := "pid " + d.ID
	if d.Mechanism == DeadmanSystemd {
		what = d.ID + ".timer"
	}
	return fmt.Sprintf("%s %s, fires %s", d.Mechanism, what, d.Deadline.UTC().Format(time.RFC3339))
}

var runIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$`)

// checkRunID keeps run ids usable as one folder name and in a unit name.
func checkRunID(id string) error {
	if !runIDRe.MatchString(id) {
		return fmt.Errorf("bad run id %q: want 1-200 of [A-Za-z0-9_.-], starting with a letter or digit", id)
	}
	return nil
}

// snapshotDir is the folder of a run, after checking the run id.
func snapshotDir(runID string) (string, error) {
	if err := checkRunID(runID); err != nil {
		return "", err
	}
	return snapshotRoot + "/" + runID, nil
}

// checkSnapshot refuses a Snapshot whose Dir is not the one of its run id:
// Cleanup removes that folder recursively.
func checkSnapshot(s Snapshot) error {
	dir, err := snapshotDir(s.RunID)
	if err != nil {
		return err
	}
	if s.Dir != dir {
		return fmt.Errorf("snapshot folder %q is not %q", s.Dir, dir)
	}
	return nil
}

func checkFamily(f Family) error {
	if (f.Cmd != "iptables" && f.Cmd != "ip6tables") || f.Save != f.Cmd+"-save" {
		return fmt.Errorf("unknown family %q (%s, %s)", f.Name, f.Cmd, f.Save)
	}
	return nil
}

// checkSavedPath accepts the paths files.list can carry: absolute, clean,
// no control characters, no leading or trailing blank.
func checkSavedPath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "/":
		return fmt.Errorf("saved file %q: want a clean absolute path", p)
	case strings.TrimSpace(p) != p || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("saved file %q: blanks at the ends or control characters", p)
	}
	return nil
}

// mustRun runs argv and wants exit 0; the error names what and carries
// the exit code and stderr.
func mustRun(ctx context.Context, ex remote.Executor, what string, argv ...string) (remote.Result, error) {
	r, err := ex.Run(ctx, remote.Command{Argv: argv})
	if err != nil {
		return r, fmt.Errorf("%s: %w", what, err)
	}
	if r.ExitCode != 0 {
		return r, fmt.Errorf("%s: exit %d: %s", what, r.ExitCode, firstLine(r.Stderr, r.Stdout))
	}
	return r, nil
}

// firstLine is the trimmed first non-empty of the given outputs, for messages.
func firstLine(outs ...[]byte) string {
	for _, o := range outs {
		if s := strings.TrimSpace(string(o)); s != "" {
			return s
		}
	}
	return "(no output)"
}

// restoreScript is DIR/restore.sh. It finds its folder from $0 (run it by
// absolute path) and takes who runs it as $1: "deadman" must win the claim
// first; anything else ("session") restores unconditionally.
const restoreScript = `#!/bin/sh
# estab: put this host back to the snapshot in this folder.
# /bin/sh DIR/restore.sh deadman|session   (written by estab; constant)
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
umask 077
by=${1:-manual}
dir=${0%/*}
case $dir in
/*) ;;
*) echo "restore.sh: run it by its absolute path" >&2; exit 2 ;;
esac
cd "$dir" || exit 2
if [ "$by" = deadman ]; then
	# Disarm and the dead-man race for this one token.
	mkdir claim 2>/dev/null || exit 0
	echo deadman > claim/by
fi
# The snapshot, and an empty filter table with ACCEPT policies when the
# host had none (else the filter table made since would stay as it is).
input() {
	cat "$1.save"
	grep -q '^\*filter' "$1.save" ||
		printf '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n'
}
rc=0
# Each table in the snapshot is replaced atomically, policies included:
# never a flush (with a DROP policy a flush locks everyone out).
for f in iptables ip6tables; do
	[ -f "$f.save" ] || continue
	if ! input "$f" | "$f-restore" -w 30 2>>restore.log; then
		input "$f" | "$f-restore" 2>>restore.log || { rc=1; echo "$f-restore failed" >>restore.log; continue; }
	fi
	# No filter table before: on nf_tables remove the (now empty) one,
	# so that *-save is as it was, not only the same in effect.
	if ! grep -q '^\*filter' "$f.save" && "$f" -V 2>/dev/null | grep -q nf_tables && command -v nft >/dev/null 2>&1; then
		nf=ip
		[ "$f" = ip6tables ] && nf=ip6
		nft delete table "$nf" filter 2>>restore.log
	fi
done
if [ -f files.list ]; then
	while read -r n mode uid gid p; do
		[ -n "$p" ] || continue
		if [ "$mode" = - ]; then
			rm -f -- "$p" || rc=1
			continue
		fi
		tmp="$p.estab-restore.$$"
		if cp -- "files/$n" "$tmp" && chown "$uid:$gid" "$tmp" && chmod "$mode" "$tmp" && mv -f -- "$tmp" "$p"; then
			command -v restorecon >/dev/null 2>&1 && restorecon -- "$p" 2>/dev/null
		else
			rm -f -- "$tmp"
			rc=1
		fi
	done < files.list
	[ -s files.list ] && sync
fi
status=ok
[ "$rc" = 0 ] || status=failed
printf '%s by=%s status=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$by" "$status" > restored.tmp && mv -f restored.tmp restored
exit "$rc"
`

// snapshotScript: sh -c snapshotScript sh DIR "CMD…" PATH… < restoreScript
// It makes DIR (never over an existing one: a snapshot taken after a change
// would make the rollback keep the change), writes restore.sh from stdin,
// saves each family, copies the saved files and then writes "taken". On
// failure DIR goes. stdout: "<n> copied" or "<n> absent" per PATH, in order.
const snapshotScript = `set -u
umask 077
dir=$1 fams=$2
shift 2
i=0
until mkdir -- "$dir" 2>/dev/null; do
	if [ -e "$dir" ] || [ -L "$dir" ]; then
		echo "snapshot folder $dir exists already: refusing to replace a snapshot" >&2
		exit 3
	fi
	i=$((i+1))
	# (again if someone removed the empty parent meanwhile)
	[ "$i" -le 3 ] || { echo "cannot make $dir" >&2; exit 1; }
	mkdir -p -- "${dir%/*}"
done
fail() { echo "$*" >&2; rm -rf -- "$dir"; exit 1; }
cat > "$dir/restore.sh" && chmod 0700 "$dir/restore.sh" || fail "cannot write restore.sh"
[ -s "$dir/restore.sh" ] || fail "no restore script on stdin"
mkdir -- "$dir/files" || fail "cannot make $dir/files"
for f in $fams; do
	"$f-save" > "$dir/$f.save.tmp" || fail "$f-save failed"
	mv -f -- "$dir/$f.save.tmp" "$dir/$f.save" || fail "cannot write $f.save"
done
: > "$dir/files.list" || fail "cannot write files.list"
n=0
for p do
	n=$((n+1))
	if [ -e "$p" ] || [ -L "$p" ]; then
		[ -f "$p" ] || fail "$p is not a regular file"
		meta=$(stat -c '%a %u %g' -- "$p") || fail "cannot stat $p"
		cp -- "$p" "$dir/files/$n" || fail "cannot copy $p"
		printf '%s %s %s\n' "$n" "$meta" "$p" >> "$dir/files.list" || fail "cannot write files.list"
		echo "$n copied"
	else
		printf '%s - - - %s\n' "$n" "$p" >> "$dir/files.list" || fail "cannot write files.list"
		echo "$n absent"
	fi
done
date -u +%Y-%m-%dT%H:%M:%SZ > "$dir/taken" || fail "cannot write taken"
`

// TakeSnapshot stores the host's rules of each family and the files that
// the save will overwrite in SnapshotRoot/<runID>/ on the host, with the
// restore script. It refuses to replace an existing snapshot of runID.
func TakeSnapshot(ctx context.Context, ex remote.Executor, runID string, families []Family, savedFiles []string) (Snapshot, error) {
	dir, err := snapshotDir(runID)
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	var cmds []string
	for _, f := range families {
		if err := checkFamily(f); err != nil {
			return Snapshot{}, fmt.Errorf("snapshot: %w", err)
		}
		cmds = append(cmds, f.Cmd)
	}
	seen := map[string]bool{}
	for _, p := range savedFiles {
		if err := checkSavedPath(p); err != nil {
			return Snapshot{}, fmt.Errorf("snapshot: %w", err)
		}
		if seen[p] {
			return Snapshot{}, fmt.Errorf("snapshot: saved file %s given twice", p)
		}
		seen[p] = true
	}
	argv := append([]string{"sh", "-c", snapshotScript, "sh", dir, strings.Join(cmds, " ")}, savedFiles...)
	r, err := ex.Run(ctx, remote.Command{Argv: argv, Stdin: []byte(restoreScript)})
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	if r.ExitCode != 0 {
		return Snapshot{}, fmt.Errorf("snapshot: exit %d: %s", r.ExitCode, firstLine(r.Stderr, r.Stdout))
	}
	snap := Snapshot{Dir: dir, RunID: runID, Families: append([]Family(nil), families...), Files: map[string]string{}}
	got := map[int]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(r.Stdout)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		got[n] = f[1]
	}
	for i, p := range savedFiles {
		switch got[i+1] {
		case "copied":
			snap.Files[p] = dir + "/files/" + strconv.Itoa(i+1)
		case "absent":
			snap.Files[p] = ""
		default:
			return snap, fmt.Errorf("snapshot: no word on saved file %s in the output: %q", p, r.Stdout)
		}
	}
	return snap, nil
}

// sleeperScript is the setsid dead-man: $1 seconds, $2 the folder. One
// line, so that Disarm can read /proc/<pid>/cmdline line by line. HUP is
// ignored (inherited by sleep) for good measure: in its own session it
// has no terminal that could send one.
const sleeperScript = `trap '' HUP; echo "$$" > "$2/deadman.pid.tmp" && mv -f "$2/deadman.pid.tmp" "$2/deadman.pid"; sleep "$1"; exec /bin/sh "$2/restore.sh" deadman`

// armScript: sh -c armScript sh DIR MECHANISM SECONDS UNIT SLEEPER
// stdout: "<mechanism> <id> <host epoch seconds>"; the mechanism is setsid
// when systemd-run was asked for but failed (no D-Bus in a container…).
const armScript = `set -u
dir=$1 mech=$2 secs=$3 unit=$4 sleeper=$5
[ -f "$dir/restore.sh" ] && [ -f "$dir/taken" ] || { echo "no complete snapshot in $dir" >&2; exit 3; }
if [ -e "$dir/armed" ]; then
	echo "a dead-man was armed for this snapshot already: $(cat "$dir/armed")" >&2
	exit 4
fi
if [ "$mech" = systemd-run ]; then
	if systemd-run --unit "$unit" --description "estab dead-man rollback of $dir" \
		--on-active="${secs}s" --timer-property=AccuracySec=1s \
		/bin/sh "$dir/restore.sh" deadman >&2; then
		id=$unit
	else
		echo "systemd-run failed: falling back to a setsid sleeper" >&2
		mech=setsid
	fi
fi
case $mech in
systemd-run) ;;
setsid)
	rm -f -- "$dir/deadman.pid" "$dir/deadman.pid.tmp"
	# In the background of a shell without job control, setsid is no
	# process group leader: it makes the new session without forking.
	setsid /bin/sh -c "$sleeper" estab-deadman "$secs" "$dir" </dev/null >/dev/null 2>&1 &
	i=0
	while [ ! -s "$dir/deadman.pid" ]; do
		i=$((i+1))
		if [ "$i" -gt 100 ]; then
			# Whatever starts late must not fire unrecorded.
			mkdir "$dir/claim" 2>/dev/null && echo arm-failed > "$dir/claim/by"
			echo "the setsid dead-man did not start" >&2
			exit 5
		fi
		sleep 0.1 2>/dev/null || sleep 1
	done
	id=$(cat "$dir/deadman.pid")
	;;
*)
	echo "unknown dead-man mechanism $mech" >&2
	exit 2
	;;
esac
printf '%s %s\n' "$mech" "$id" > "$dir/armed"
printf '%s %s %s\n' "$mech" "$id" "$(date +%s)"
`

// scriptNames name the constant shell programs of this package, for
// DescribeArgv.
var scriptNames = map[string]string{
	snapshotScript: "snapshot", armScript: "arm", disarmScript: "disarm", verifyFilesScript: "verify-files",
	cleanupScript: "cleanup", writeSaveScript: "write-save", existsScript: "exists", osReleaseScript: "os-release",
	sleeperScript: "sleeper",
}

// DescribeArgv returns argv for logs and step records with each constant
// script of this package (sh -c SCRIPT …) replaced by "<estab NAME script>",
// so that a host's step list shows what ran without kilobytes of shell.
func DescribeArgv(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if name, ok := scriptNames[a]; ok {
			a = "<estab " + name + " script>"
		}
		out[i] = a
	}
	return out
}

// DecideDeadman picks the mechanism from the host's PID 1 name
// (/proc/1/comm) and the exit status of `systemd-run --version`.
func DecideDeadman(pid1Comm string, systemdRunExit int) string {
	if strings.TrimSpace(pid1Comm) == "systemd" && systemdRunExit == 0 {
		return DeadmanSystemd
	}
	return DeadmanSetsid
}

// Arm starts the dead-man: after `after` (whole seconds, rounded up) the
// host runs snap's restore script unless Disarm claimed it first. It
// outlives the SSH session and the runner. One dead-man per snapshot.
func Arm(ctx context.Context, ex remote.Executor, snap Snapshot, after time.Duration) (Deadman, error) {
	if err := checkSnapshot(snap); err != nil {
		return Deadman{}, fmt.Errorf("arm: %w", err)
	}
	if after <= 0 {
		return Deadman{}, fmt.Errorf("arm: rollback delay %v: want > 0", after)
	}
	secs := int64((after + time.Second - 1) / time.Second)
	comm, err := ex.Run(ctx, remote.Command{Argv: []string{"cat", "/proc/1/comm"}})
	if err != nil {
		return Deadman{}, fmt.Errorf("arm: %w", err)
	}
	sdExit := -1
	if strings.TrimSpace(string(comm.Stdout)) == "systemd" {
		v, err := ex.Run(ctx, remote.Command{Argv: []string{"systemd-run", "--version"}})
		if err != nil {
			return Deadman{}, fmt.Errorf("arm: %w", err)
		}
		sdExit = v.ExitCode
	}
	mech := DecideDeadman(string(comm.Stdout), sdExit)
	unit := "estab-rollback-" + snap.RunID
	r, err := mustRun(ctx, ex, "arm "+mech, "sh", "-c", armScript, "sh", snap.Dir, mech, strconv.FormatInt(secs, 10), unit, sleeperScript)
	if err != nil {
		return Deadman{}, err
	}
	f := strings.Fields(string(r.Stdout))
	if len(f) != 3 {
		return Deadman{}, fmt.Errorf("arm %s: unexpected output %q", mech, r.Stdout)
	}
	epoch, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return Deadman{}, fmt.Errorf("arm %s: bad host time %q", mech, f[2])
	}
	d := Deadman{Mechanism: f[0], ID: f[1], Deadline: time.Unix(epoch+secs, 0), Dir: snap.Dir}
	if err := checkDeadman(d); err != nil {
		return d, fmt.Errorf("arm %s: %w", mech, err)
	}
	return d, nil
}

var pidRe = regexp.MustCompile(`^[1-9][0-9]{0,9}$`)

func checkDeadman(d Deadman) error {
	if !strings.HasPrefix(d.Dir, snapshotRoot+"/") {
		return fmt.Errorf("dead-man folder %q is not under %s", d.Dir, snapshotRoot)
	}
	if _, err := snapshotDir(strings.TrimPrefix(d.Dir, snapshotRoot+"/")); err != nil {
		return err
	}
	switch d.Mechanism {
	case DeadmanSetsid:
		if !pidRe.MatchString(d.ID) {
			return fmt.Errorf("bad dead-man pid %q", d.ID)
		}
	case DeadmanSystemd:
		if err := checkRunID(strings.TrimPrefix(d.ID, "estab-rollback-")); err != nil || !strings.HasPrefix(d.ID, "estab-rollback-") {
			return fmt.Errorf("bad dead-man unit %q", d.ID)
		}
	default:
		return fmt.Errorf("unknown dead-man mechanism %q", d.Mechanism)
	}
	return nil
}

// disarmScript: sh -c disarmScript sh DIR MECHANISM ID
// exit 0 disarmed; 10 the dead-man fired (stdout says what it did); else error.
const disarmScript = `set -u
dir=$1 mech=$2 id=$3
[ -f "$dir/restore.sh" ] || { echo "no snapshot in $dir" >&2; exit 3; }
pause() { sleep 0.1 2>/dev/null || sleep 1; }
if mkdir "$dir/claim" 2>/dev/null; then
	echo disarm > "$dir/claim/by"
else
	i=0
	while [ ! -s "$dir/claim/by" ] && [ "$i" -lt 50 ]; do i=$((i+1)); pause; done
	by=$(cat "$dir/claim/by" 2>/dev/null)
	if [ "$by" != disarm ]; then
		i=0
		while [ ! -f "$dir/restored" ] && [ "$i" -lt 150 ]; do i=$((i+1)); pause; done
		if [ -f "$dir/restored" ]; then
			echo "restored $(cat "$dir/restored")"
		else
			echo "claimed by ${by:-unknown}; the rollback is still running"
		fi
		exit 10
	fi
fi
case $mech in
systemd-run)
	systemctl stop "$id.timer" >/dev/null 2>&1
	if [ "$(systemctl is-active "$id.timer" 2>/dev/null)" = active ]; then
		echo "timer $id.timer is still active" >&2
		exit 5
	fi
	;;
setsid)
	ours() {
		[ -r "/proc/$id/cmdline" ] &&
			tr '\000' '\n' < "/proc/$id/cmdline" 2>/dev/null | {
				read -r _a; read -r _b; read -r _c; read -r d; read -r _e; read -r f
				[ "$d" = estab-deadman ] && [ "$f" = "$dir" ]
			}
	}
	i=0
	while ours; do
		# Its own process group (setsid): the sleep goes too.
		if [ "$i" -lt 20 ]; then
			kill -TERM -"$id" 2>/dev/null || kill -TERM "$id" 2>/dev/null
		else
			kill -KILL -"$id" 2>/dev/null || kill -KILL "$id" 2>/dev/null
		fi
		i=$((i+1))
		if [ "$i" -gt 40 ]; then
			echo "dead-man pid $id does not stop" >&2
			exit 5
		fi
		pause
	done
	;;
*)
	echo "unknown dead-man mechanism $mech" >&2
	exit 2
	;;
esac
echo disarmed
`

// Disarm claims the dead-man's token, so that it can no longer restore,
// then stops the timer or kills the sleeper (only if /proc/<pid>/cmdline
// still is our sleeper for this folder: a recycled pid is never killed) and
// confirms it is gone. If the dead-man fired first the error wraps
// ErrRolledBack and says what the rollback reported. Disarming twice is fine.
func Disarm(ctx context.Context, ex remote.Executor, d Deadman) error {
	if err := checkDeadman(d); err != nil {
		return fmt.Errorf("disarm: %w", err)
	}
	r, err := ex.Run(ctx, remote.Command{Argv: []string{"sh", "-c", disarmScript, "sh", d.Dir, d.Mechanism, d.ID}})
	if err != nil {
		return fmt.Errorf("disarm: %w", err)
	}
	switch r.ExitCode {
	case 0:
		return nil
	case 10:
		return fmt.Errorf("disarm %s: %w: %s", d, ErrRolledBack, firstLine(r.Stdout))
	}
	return fmt.Errorf("disarm %s: exit %d: %s", d, r.ExitCode, firstLine(r.Stderr, r.Stdout))
}

// Restore puts the host back to the snapshot at once, over the session:
// the same script the dead-man runs.
func Restore(ctx context.Context, ex remote.Executor, snap Snapshot) error {
	if err := checkSnapshot(snap); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	_, err := mustRun(ctx, ex, "restore", "/bin/sh", snap.Dir+"/restore.sh", "session")
	return err
}

// verifyFilesScript: sh -c verifyFilesScript sh DIR — every file of
// files.list is back as it was (content, mode, owner) or absent again.
const verifyFilesScript = `set -u
dir=$1
bad=0
[ -f "$dir/files.list" ] || exit 0
while read -r n mode uid gid p; do
	[ -n "$p" ] || continue
	if [ "$mode" = - ]; then
		if [ -e "$p" ] || [ -L "$p" ]; then echo "$p exists but did not before"; bad=1; fi
		continue
	fi
	if [ ! -f "$p" ]; then echo "$p is missing"; bad=1; continue; fi
	cmp -s -- "$dir/files/$n" "$p" || { echo "$p differs from the snapshot"; bad=1; }
	now=$(stat -c '%a %u %g' -- "$p")
	[ "$now" = "$mode $uid $gid" ] || { echo "$p is $now, was $mode $uid $gid"; bad=1; }
done < "$dir/files.list"
exit "$bad"
`

// Verify checks that the host is as the snapshot says: each family's
// *-save equal to the snapshot's (NormalizeSave: counters and comments
// aside) and every saved file back as it was (or absent again).
func Verify(ctx context.Context, ex remote.Executor, snap Snapshot) error {
	if err := checkSnapshot(snap); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	var problems []string
	for _, f := range snap.Families {
		if err := checkFamily(f); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		want, err := mustRun(ctx, ex, "verify", "cat", "--", snap.Dir+"/"+f.Cmd+".save")
		if err != nil {
			return err
		}
		now, err := mustRun(ctx, ex, "verify", f.Save)
		if err != nil {
			return err
		}
		if !SameAsSnapshot(string(want.Stdout), string(now.Stdout)) {
			problems = append(problems, fmt.Sprintf("%s differs from the snapshot:\n%s", f.Save, SaveDiff(f.Save, string(want.Stdout), string(now.Stdout))))
		}
	}
	r, err := ex.Run(ctx, remote.Command{Argv: []string{"sh", "-c", verifyFilesScript, "sh", snap.Dir}})
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	switch r.ExitCode {
	case 0:
	case 1:
		problems = append(problems, strings.TrimSpace(string(r.Stdout)))
	default:
		return fmt.Errorf("verify saved files: exit %d: %s", r.ExitCode, firstLine(r.Stderr, r.Stdout))
	}
	if len(problems) > 0 {
		return fmt.Errorf("verify: host is not as the snapshot %s: %s", snap.Dir, strings.Join(problems, "; "))
	}
	return nil
}

// emptyFilter is what restore.sh loads when the snapshot has no filter
// table: the same in effect as none.
const emptyFilter = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"

// SameAsSnapshot says whether a *-save output now is the snapshot's
// (NormalizeSave: counters and comments aside). A snapshot without a
// filter table also matches the empty filter table with ACCEPT policies
// that the restore leaves where it cannot remove the table (legacy
// backend, no nft command).
func SameAsSnapshot(snapshot, now string) bool {
	if NormalizeSave(snapshot) == NormalizeSave(now) {
		return true
	}
	want, got := saveTables(snapshot), saveTables(now)
	if _, ok := want["filter"]; !ok {
		want["filter"] = saveTables(emptyFilter)["filter"]
	}
	if len(want) != len(got) {
		return false
	}
	for name, body := range want {
		if got[name] != body {
			return false
		}
	}
	return true
}

// saveTables splits a *-save output into its tables, normalized: name ->
// lines from "*name" to "COMMIT".
func saveTables(save string) map[string]string {
	out := map[string]string{}
	name := ""
	for _, line := range strings.Split(NormalizeSave(save), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "*"):
			name = line[1:]
			out[name] = ""
		case name == "" || line == "":
		default:
			out[name] += line + "\n"
			if line == "COMMIT" {
				name = ""
			}
		}
	}
	return out
}

// cleanupScript: sh -c cleanupScript sh DIR — refuses while a dead-man is
// armed and unclaimed (removing the folder would disarm it silently).
const cleanupScript = `set -u
dir=$1
[ -d "$dir" ] || exit 0
if [ -e "$dir/armed" ] && [ ! -d "$dir/claim" ]; then
	echo "the dead-man of $dir is armed ($(cat "$dir/armed")): disarm it first" >&2
	exit 4
fi
rm -rf -- "$dir"
`

// Cleanup removes the snapshot folder (after a successful, disarmed run).
// It refuses while the dead-man is still armed. No folder is no error.
func Cleanup(ctx context.Context, ex remote.Executor, snap Snapshot) error {
	if err := checkSnapshot(snap); err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	_, err := mustRun(ctx, ex, "cleanup", "sh", "-c", cleanupScript, "sh", snap.Dir)
	return err
}
