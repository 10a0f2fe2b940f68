package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/estab/estab/lab"
	"github.com/estab/estab/lab/labtest"
	"github.com/estab/estab/steps/safety"
)

// The lab of this package, started once in TestMain: one host per fault
// (names start with "fx-", so that their snapshot folders in the shared
// /var/lib/estab never meet another package's) and healthy companions
// ("fx-okN") that run in the same estab invocation and must finish
// normally.
var fleet *lab.Lab

// haveLegacy: the xtables lock exists only for iptables-legacy (iptables-nft
// ignores -w), so the lock test needs a legacy host.
var haveLegacy = func() bool {
	_, err := exec.LookPath("iptables-legacy-restore")
	return err == nil
}()

func hostSpecs() []lab.HostSpec {
	seed := func(name string) lab.HostSpec {
		return lab.HostSpec{Name: name, Rules: lab.SeedRules, Rules6: lab.SeedRules}
	}
	hs := []lab.HostSpec{
		seed(hostSSHDKilled),
		seed(hostKeyChanged),
		seed(hostNoIptables),
		seed(hostReadOnly),
		seed(hostKillBeforeArm),
		seed(hostKillAfterArm),
		seed(hostKillAtPause),
		seed(hostKillInSave),
		seed(hostKillInClaim),
	}
	for _, name := range []string{hostLocked, hostLockedAtCheck} {
		lock := seed(name)
		lock.Legacy = haveLegacy
		hs = append(hs, lock)
	}
	sudo := seed(hostNoSudo)
	sudo.Login = lab.LoginSudo
	hs = append(hs, sudo)
	for i := 1; i <= companions; i++ {
		hs = append(hs, seed(fmt.Sprintf("fx-ok%d", i)))
	}
	return hs
}

// Fault hosts.
const (
	hostSSHDKilled    = "fx-sshd"
	hostKeyChanged    = "fx-hostkey"
	hostNoIptables    = "fx-noipt"
	hostLocked        = "fx-xlock"
	hostLockedAtCheck = "fx-xlock-c"
	hostReadOnly      = "fx-rofs"
	hostNoSudo        = "fx-nosudo"
	hostKillBeforeArm = "fx-k-snap"
	hostKillAfterArm  = "fx-k-armed"
	hostKillAtPause   = "fx-k-pause"
	hostKillInSave    = "fx-k-save"
	hostKillInClaim   = "fx-k-claim"
)

// companions: one healthy host per fault test.
const companions = 12

// estabBin is the estab binary, built once (in parallel with the lab's
// start) as an operator would build it.
var (
	estabBin  string
	buildErr  error
	buildDone = make(chan struct{})
)

func TestMain(m *testing.M) {
	waitInParallel()
	dir, err := os.MkdirTemp("", "estab-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	go func() {
		defer close(buildDone)
		estabBin, buildErr = buildEstab(dir)
	}()
	_, statErr := os.Stat(safety.SnapshotRoot)
	code := labtest.Main(m, lab.Options{Hosts: hostSpecs()}, &fleet)
	<-buildDone
	// Rolled-back hosts keep their snapshot folders by design; remove
	// those of this package's hosts.
	left, _ := filepath.Glob(filepath.Join(safety.SnapshotRoot, "*-fx-*"))
	for _, d := range left {
		os.RemoveAll(d)
	}
	if os.IsNotExist(statErr) {
		os.Remove(safety.SnapshotRoot) // only when empty: other packages may use it
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// waitInParallel lets more tests run at once than -parallel's default (the
// number of CPUs) unless -parallel was given: these tests mostly wait, for
// dead-man timers and lock timeouts, and run on hosts of their own.
func waitInParallel() {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", "8")
	}
}

// buildEstab builds cmd/estab into dir with the go command that runs the
// tests (go test puts its GOROOT/bin first in PATH).
func buildEstab(dir string) (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = "/usr/local/go/bin/go"
	}
	bin := filepath.Join(dir, "estab")
	out, err := exec.Command(goCmd, "build", "-o", bin, "github.com/estab/estab/cmd/estab").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/estab: %v\n%s", err, out)
	}
	return bin, nil
}

// needLab is the start of every test here: it skips (or fails under
// CI=true) without root and sshd, and waits for the estab binary.
func needLab(t *testing.T) *lab.Lab {
	t.Helper()
	labtest.RequireRoot(t)
	if fleet == nil {
		t.Fatal("no lab: TestMain could not start it")
	}
	<-buildDone
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return fleet
}
