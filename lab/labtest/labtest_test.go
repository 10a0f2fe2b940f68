package labtest_test

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/estab/estab/lab"
	"github.com/estab/estab/lab/labtest"
)

var fleet *lab.Lab

// The way other packages use a lab: one for the package, in TestMain.
func TestMain(m *testing.M) {
	os.Exit(labtest.Main(m, lab.Options{Hosts: []lab.HostSpec{{Name: "web1"}}}, &fleet))
}

func TestPackagePrefix(t *testing.T) {
	p := labtest.PackagePrefix()
	if !regexp.MustCompile(`^t[0-9a-f]{5}$`).MatchString(p) || p != labtest.PackagePrefix() {
		t.Errorf("PackagePrefix() = %q", p)
	}
}

func TestMainStartedALab(t *testing.T) {
	labtest.RequireRoot(t)
	if fleet == nil || fleet.Prefix != labtest.PackagePrefix() {
		t.Fatalf("lab %+v", fleet)
	}
	out, err := fleet.Exec(context.Background(), "web1", "hostname")
	if err != nil || strings.TrimSpace(string(out)) != "web1" {
		t.Errorf("hostname: %v %q", err, out)
	}
}
