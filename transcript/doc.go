// Package transcript writes `--log-dir` transcripts: one text file per
// host, 0600 in a directory only its owner may write, with one record per
// command appended the moment the command finished, so that a runner that
// dies mid-way leaves on disk everything that was done up to then.
//
// The format (documented in the README, kept stable):
//
//	=== estab apply run RUNID host NAME (ADDRESS) started 2006-01-02T15:04:05.000Z07:00
//	--- 2006-01-02T15:04:05.000Z07:00 step=check family=ipv4 exit=1 duration=12ms
//	$ iptables -w 10 -C INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
//	  stderr:
//	    iptables: Bad rule (does a matching rule exist in that chain?).
//	=== result 2006-01-02T15:04:05.000Z07:00 status=changed duration=3.2s
//
// Header and result lines start with "=== ", command records with "--- ";
// every line of a command's stdin, stdout and stderr is indented by four
// spaces under its label, so no host output can forge a separator. Control
// characters from hosts are written as visible escapes (\x1b), so that
// `cat` of a transcript cannot drive the operator's terminal.
//
// Secrets never reach a Writer: the sudo password is written to sudo by
// package remote and is no command's argv or stdin.
package transcript
