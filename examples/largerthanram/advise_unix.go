//go:build unix

package main

import (
	"os"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// bytesOf returns the whole pages of the memory under s.
func bytesOf(s []Point) []byte {
	p := unsafe.Pointer(unsafe.SliceData(s))
	page := uintptr(os.Getpagesize())
	start := uintptr(p)
	first := (start + page - 1) &^ (page - 1)
	last := (start + uintptr(len(s)*pointSize)) &^ (page - 1)
	if last <= first {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Add(p, first-start)), last-first)
}

// dontNeed tells the kernel the pages under s will not be used again soon,
// with the advice the -hint flag names. For a shared file mapping none of
// them loses data: dirty pages are written back before they go.
func dontNeed(s []Point) {
	if a, ok := advice[hint]; ok {
		if b := bytesOf(s); b != nil {
			unix.Madvise(b, a)
		}
	}
}

// sequential tells the kernel s will be read in order: it reads ahead
// further and frees pages behind sooner.
func sequential(s []Point) {
	if b := bytesOf(s); b != nil {
		unix.Madvise(b, unix.MADV_SEQUENTIAL)
	}
}

// resetPeak resets the process's peak RSS (Linux: clear_refs 5); elsewhere
// the peak covers the whole run.
func resetPeak() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns the process's peak RSS, from /proc/self/status on Linux.
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(rest)
		}
	}
	return "unknown"
}
