package rules

import "strings"

// Join is the inverse of Split: arguments as one line iptables-restore
// reads, double-quoted where they hold blanks, quotes or nothing.
func Join(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && !strings.ContainsAny(a, " \t\"\\") {
			b.WriteString(a)
			continue
		}
		b.WriteByte('"')
		for j := 0; j < len(a); j++ {
			if a[j] == '"' || a[j] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(a[j])
		}
		b.WriteByte('"')
	}
	return b.String()
}

// ReplaceInInput is the iptables-restore --noflush input that deletes each
// rule of del from chain by its specification (never by a number: another
// tool may have moved rules since they were listed) and inserts keep at the
// top, in one atomic commit: there is no moment without the rule, and if
// any rule of del is gone the whole commit fails and nothing changes.
func ReplaceInInput(chain string, del []Rule, keep []string) string {
	var b strings.Builder
	b.WriteString("*filter\n")
	for _, r := range del {
		b.WriteString("-D " + chain + " " + Join(r.Spec) + "\n")
	}
	b.WriteString("-I " + chain + " 1 " + Join(keep) + "\n")
	b.WriteString("COMMIT\n")
	return b.String()
}
