package bigtable

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/estab/estab/lab"
	"github.com/estab/estab/lab/labtest"
	"github.com/estab/estab/rules"
	"github.com/estab/estab/rules/rulestest"
)

// tableSize is the node's filter table, per family.
const tableSize = 20000

// host is the lab's one host: a Kubernetes node.
const host = "bigk8s"

var (
	fleet    *lab.Lab
	estabBin string
	buildErr error
	built    = make(chan struct{}) // closed once estabBin is built (or buildErr set)
	node4    = rulestest.KubeNode(rules.IPv4, tableSize)
	node6    = rulestest.KubeNode(rules.IPv6, tableSize)
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "estab-bigtable-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bigtable:", err)
		os.Exit(1)
	}
	go func() {
		defer close(built)
		estabBin, buildErr = buildEstab(dir)
	}()
	spec := lab.HostSpec{Name: host, Rules: node4.Save(false), Rules6: node6.Save(false)}
	code := labtest.Main(m, lab.Options{Prefix: "erbt", Hosts: []lab.HostSpec{spec}}, &fleet)
	<-built
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildEstab builds cmd/estab into dir, as an operator would.
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
