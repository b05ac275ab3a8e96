// PROF and MEMPROF name files for a CPU profile of the export and an
// allocation profile after it.
package main

import (
	"os"
	"runtime/pprof"
)

func init() {
	if p := os.Getenv("PROF"); p != "" {
		f, _ := os.Create(p)
		pprof.StartCPUProfile(f)
		stopProf = func() { pprof.StopCPUProfile(); f.Close() }
	}
}

var stopProf = func() {}

func memProf() {
	if p := os.Getenv("MEMPROF"); p != "" {
		f, _ := os.Create(p)
		pprof.Lookup("allocs").WriteTo(f, 0)
		f.Close()
	}
}
