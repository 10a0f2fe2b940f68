package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The kernel keeps one neighbour table per family (ARP, NDP) for all
// network namespaces, and it refuses new entries past gc_thresh3 (1024 on
// a stock kernel): each lab host costs an entry on the root side of the
// bridge and one for its gateway inside its namespace, so past ≈500 hosts
// hosts look unreachable. Labs raise gc_thresh2 and gc_thresh3 by what all
// running labs need, and the last one down restores the values found
// before the first raise (recorded in runDir and in each lab's state).
// Labs with few hosts change nothing.

// neighKeys are the sysctls a lab raises, as paths under /proc/sys.
var neighKeys = []string{
	"net/ipv4/neigh/default/gc_thresh2", "net/ipv4/neigh/default/gc_thresh3",
	"net/ipv6/neigh/default/gc_thresh2", "net/ipv6/neigh/default/gc_thresh3",
}

// neighSaved is runDir/neigh.json: the values before the first raise and
// the values last written, so that Down restores only what nobody else
// changed since.
type neighSaved struct {
	Before map[string]int `json:"before"`
	Set    map[string]int `json:"set"`
}

// Where the sysctls and the labs' records are; tests point them elsewhere.
var (
	sysctlRoot = "/proc/sys"
	neighDir   = runDir
)

func neighFile() string                  { return filepath.Join(neighDir, "neigh.json") }
func neighNeedFile(prefix string) string { return filepath.Join(neighDir, "neigh-need-"+prefix) }

// neighEntries is how many entries per family a lab of n hosts adds.
func neighEntries(n int) int { return 2 * n }

// neighTargets returns the thresholds all labs need together (entries in
// total), nil when the values before are enough: the entries fit in half
// of gc_thresh2, below which the kernel hardly collects.
func neighTargets(before map[string]int, entries int) map[string]int {
	raise := false
	for k, v := range before {
		if strings.HasSuffix(k, "gc_thresh2") && entries > v/2 {
			raise = true
		}
	}
	if !raise {
		return nil
	}
	want := map[string]int{}
	for k, v := range before {
		want[k] = v + 2*entries
	}
	return want
}

// neighRaiseLocked records that lab prefix has n hosts and sets the
// thresholds every running lab needs. It returns the values before the
// first lab raised them (nil when nothing is raised).
func neighRaiseLocked(prefix string, n int) (map[string]int, error) {
	if err := writeFile(neighNeedFile(prefix), []byte(strconv.Itoa(neighEntries(n))+"\n"), 0o644); err != nil {
		return nil, err
	}
	return neighApplyLocked()
}

// neighReleaseLocked forgets lab prefix and lowers (or restores) the
// thresholds to what the remaining labs need.
func neighReleaseLocked(prefix string) error {
	if err := removeIfExists(neighNeedFile(prefix)); err != nil {
		return err
	}
	_, err := neighApplyLocked()
	return err
}

func neighApplyLocked() (map[string]int, error) {
	entries := 0
	needs, _ := filepath.Glob(neighNeedFile("*"))
	for _, f := range needs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 {
			entries += n
		}
	}
	var saved neighSaved
	b, err := os.ReadFile(neighFile())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if saved.Before, err = readSysctls(neighKeys); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, &saved); err != nil {
			return nil, fmt.Errorf("%s: %w", neighFile(), err)
		}
	}
	if err := saved.forgetChanged(); err != nil {
		return nil, err
	}
	want := neighTargets(saved.Before, entries)
	if want == nil {
		return nil, neighRestoreLocked(saved)
	}
	if err := writeSysctls(want); err != nil {
		return nil, err
	}
	saved.Set = want
	out, err := json.Marshal(saved)
	if err != nil {
		return nil, err
	}
	return saved.Before, writeFile(neighFile(), append(out, '\n'), 0o644)
}

// forgetChanged stops managing a threshold someone else set since a lab
// last wrote it: labs neither lower nor restore it any more.
func (s *neighSaved) forgetChanged() error {
	if s.Set == nil {
		return nil
	}
	now, err := readSysctls(neighKeys)
	if err != nil {
		return err
	}
	for k := range s.Set {
		if now[k] != s.Set[k] {
			delete(s.Before, k)
			delete(s.Set, k)
		}
	}
	return nil
}

// neighRestoreLocked writes back the values before the first raise (those
// still managed) and forgets them.
func neighRestoreLocked(saved neighSaved) error {
	if saved.Set != nil {
		back := map[string]int{}
		for k := range saved.Set {
			back[k] = saved.Before[k]
		}
		if err := writeSysctls(back); err != nil {
			return err
		}
	}
	return removeIfExists(neighFile())
}

func readSysctls(keys []string) (map[string]int, error) {
	m := map[string]int{}
	for _, k := range keys {
		b, err := os.ReadFile(filepath.Join(sysctlRoot, k))
		if err != nil {
			return nil, err
		}
		v, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		m[k] = v
	}
	return m, nil
}

func writeSysctls(m map[string]int) error {
	var errs []error
	for _, k := range neighKeys {
		v, ok := m[k]
		if !ok {
			continue
		}
		if err := os.WriteFile(filepath.Join(sysctlRoot, k), []byte(strconv.Itoa(v)+"\n"), 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
