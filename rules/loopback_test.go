package rules

import "testing"

func TestLoopbackFirst(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		ok         bool
		at         string
	}{
		{"accepted first", "-P INPUT DROP\n-A INPUT -i lo -j ACCEPT\n-A INPUT -j DROP\n", true, "INPUT 1"},
		{"nothing drops", "-P INPUT ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n", true, ""},
		{"policy drops", "-P INPUT DROP\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n", false, ""},
		{"dropped first", "-P INPUT ACCEPT\n-A INPUT -j REJECT\n-A INPUT -i lo -j ACCEPT\n", false, "INPUT 1"},
		{"ufw: in ufw-before-input", "-P INPUT DROP\n-N ufw-before-input\n-A INPUT -j ufw-before-input\n-A ufw-before-input -i lo -j ACCEPT\n", true, "INPUT 1 → ufw-before-input 1"},
		{"an INVALID drop or another interface's drop does not count",
			"-P INPUT DROP\n-A INPUT -m conntrack --ctstate INVALID -j DROP\n-A INPUT -i eth0 -j DROP\n-A INPUT -i lo -j ACCEPT\n", true, "INPUT 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := Parse(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			ok, at := LoopbackFirst(rs, "INPUT")
			path := ""
			if at != nil {
				path = at.Path
			}
			if ok != tc.ok || path != tc.at {
				t.Fatalf("ok %v at %q, want %v at %q", ok, path, tc.ok, tc.at)
			}
		})
	}
}
