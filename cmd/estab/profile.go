package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles writes a CPU profile of the whole run to $ESTAB_CPUPROFILE
// and, at the end, a heap profile to $ESTAB_MEMPROFILE (for `go tool pprof`;
// the scale benchmark uses them). Unset: nothing. The returned function
// finishes both.
func startProfiles(stderr io.Writer) (stop func()) {
	cpu, mem := os.Getenv("ESTAB_CPUPROFILE"), os.Getenv("ESTAB_MEMPROFILE")
	var cpuFile *os.File
	if cpu != "" {
		f, err := os.Create(cpu)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(stderr, "estab: ESTAB_CPUPROFILE:", err)
		} else {
			cpuFile = f
		}
	}
	return func() {
		if cpuFile != nil {
			pprof.StopCPUProfile()
			cpuFile.Close()
		}
		if mem == "" {
			return
		}
		f, err := os.Create(mem)
		if err == nil {
			runtime.GC() // the heap profile shows live objects as of the last GC
			err = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
		if err != nil {
			fmt.Fprintln(stderr, "estab: ESTAB_MEMPROFILE:", err)
		}
	}
}
